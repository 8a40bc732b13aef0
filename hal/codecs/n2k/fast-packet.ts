// NMEA 2000 fast-packet reassembly (the transport, not the PGN semantics): a message of up to 223
// bytes in up to 32 frames. Frame 0 carries a sequence/index byte, the total length and 6 bytes;
// each later frame its index byte and 7 more. The rules are canboatjs's own (FromPgn.readPacket):
// messages are keyed by source and PGN, a frame 0 restarts its message, and any other frame must
// carry exactly the previous index byte + 1 or the message is dropped. Reassembled here so a whole
// message can be looked up in the decode memo before canboatjs parses it (as `coalesced` input).

const FIRST_DATA = 6;
const NEXT_DATA = 7;
const INDEX_MASK = 0x1f;

export type FastPacketResult = { kind: 'pending' } | { kind: 'complete'; data: Buffer } | { kind: 'out-of-sequence' };

interface Partial {
  data: Buffer;
  size: number;
  lastIndexByte: number;
}

const PENDING: FastPacketResult = { kind: 'pending' };
const OUT_OF_SEQUENCE: FastPacketResult = { kind: 'out-of-sequence' };

export class FastPacketAssembler {
  /** (src << 24 | pgn) → the message being received. At most one per source and PGN. */
  private readonly partials = new Map<number, Partial>();

  push(src: number, pgn: number, frame: Uint8Array): FastPacketResult {
    const key = src * 0x1000000 + pgn;
    if (frame.length < 2) {
      this.partials.delete(key);
      return OUT_OF_SEQUENCE;
    }
    const indexByte = frame[0];
    const index = indexByte & INDEX_MASK;
    let partial = this.partials.get(key);
    if (index === 0) {
      const size = frame[1];
      partial = { data: Buffer.alloc(size + NEXT_DATA), size, lastIndexByte: indexByte };
      partial.data.set(frame.subarray(2, 8), 0);
      this.partials.set(key, partial);
    } else {
      if (!partial || partial.lastIndexByte + 1 !== indexByte) {
        this.partials.delete(key);
        return OUT_OF_SEQUENCE;
      }
      const at = FIRST_DATA + NEXT_DATA * (index - 1);
      partial.data.set(frame.subarray(1, 8), at);
      partial.lastIndexByte = indexByte;
    }
    if (FIRST_DATA + NEXT_DATA * index < partial.size) return PENDING;
    this.partials.delete(key);
    return { kind: 'complete', data: partial.data.subarray(0, partial.size) };
  }
}
