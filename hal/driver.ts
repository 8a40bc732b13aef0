// The one driver contract: every device a source or a plugin reads (serial port, socket, CAN
// interface, replayed log) opens, closes, reports its state and delivers its data the same way, so
// one open device can be shared by a data source and the plugins granted it (each adds listeners).

/** `ended`: a replay reached the end of its log. `reconnecting`: the device is away, retried with backoff. */
export type DriverState = 'connecting' | 'open' | 'reconnecting' | 'ended' | 'stopped';

export interface Driver {
  readonly state: DriverState;
  /** Why the device is not open (absent, unplugged, refused), while reconnecting or after it failed. */
  readonly lastError: string | undefined;
  /** Starts connecting; keeps reconnecting with backoff until close(). */
  open(): void;
  /** Closes the device and cancels any pending reconnect. */
  close(): Promise<void>;
  /** Adds a listener for state changes; returns its removal. */
  onState(listener: (state: DriverState) => void): () => void;
}

/** A byte stream device (serial port): received chunks out, bytes in. */
export interface ByteDriver extends Driver {
  /** Adds a listener for received bytes; returns its removal. */
  onData(listener: (chunk: Buffer) => void): () => void;
  /** Writes bytes; rejects when the device is not open. */
  write(data: string | Uint8Array): Promise<void>;
}

/** Where a transport puts the bytes it reads: a framer, which cuts them into lines or frames. */
export interface ByteSink {
  push(chunk: Uint8Array): void;
  /** The stream broke off (end of a datagram or file, connection lost): flush what is pending. */
  end(): void;
}
