// The byte-level driver contract: small enough that one open device can be shared by a data
// source and a plugin granted the same device (each adds its own data listener).

export type DriverState = 'connecting' | 'open' | 'reconnecting' | 'stopped';

export interface ByteDriver {
  readonly state: DriverState;
  /** Why the device is not open (absent, unplugged, refused), while reconnecting. */
  readonly lastError: string | undefined;
  /** Starts connecting; keeps reconnecting with backoff until close(). */
  open(): void;
  /** Closes the device and cancels any pending reconnect. */
  close(): Promise<void>;
  /** Adds a listener for received bytes; returns its removal. */
  onData(listener: (chunk: Buffer) => void): () => void;
  /** Adds a listener for state changes; returns its removal. */
  onState(listener: (state: DriverState) => void): () => void;
  /** Writes bytes; rejects when the device is not open. */
  write(data: string | Uint8Array): Promise<void>;
}
