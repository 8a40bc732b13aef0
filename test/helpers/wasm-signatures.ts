// Function signatures of a module's imports and exports, read from the binary: Node's
// WebAssembly.Module.imports/exports give names and kinds but no types (type reflection is behind a
// flag), and an ABI check needs the types.

export type ValType = 'i32' | 'i64' | 'f32' | 'f64' | 'v128' | 'funcref' | 'externref';

export interface FuncSig {
  params: ValType[];
  results: ValType[];
}

export interface ModuleSignatures {
  /** `module.name` → signature, function imports only. */
  imports: Map<string, FuncSig>;
  /** Export name → signature, function exports only. */
  exports: Map<string, FuncSig>;
}

const VALTYPES: Record<number, ValType> = {
  0x7f: 'i32',
  0x7e: 'i64',
  0x7d: 'f32',
  0x7c: 'f64',
  0x7b: 'v128',
  0x70: 'funcref',
  0x6f: 'externref',
};

class Reader {
  constructor(
    private readonly bytes: Uint8Array,
    public at: number,
  ) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw new Error(`wasm ends inside a section at byte ${this.at}`);
    return this.bytes[this.at++]!;
  }

  u32(): number {
    let value = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      value += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error(`LEB128 longer than 5 bytes at byte ${this.at}`);
  }

  name(): string {
    const len = this.u32();
    const text = Buffer.from(this.bytes.subarray(this.at, this.at + len)).toString('utf8');
    this.at += len;
    return text;
  }

  valtype(): ValType {
    const b = this.byte();
    const t = VALTYPES[b];
    if (!t) throw new Error(`unknown value type 0x${b.toString(16)} at byte ${this.at - 1}`);
    return t;
  }

  limits(): void {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
}

/** Reads the type, import, function and export sections of a core module. */
export function readSignatures(bytes: Uint8Array): ModuleSignatures {
  if (!WebAssembly.validate(bytes)) throw new Error('not a valid wasm module');
  const types: FuncSig[] = [];
  const funcTypes: number[] = []; // function index space: imports first, then defined functions
  const imports = new Map<string, FuncSig>();
  const exports = new Map<string, FuncSig>();
  const r = new Reader(bytes, 8);
  while (r.at < bytes.length) {
    const id = r.byte();
    const size = r.u32();
    const end = r.at + size;
    if (id === 1) {
      for (let n = r.u32(); n > 0; n--) {
        if (r.byte() !== 0x60) throw new Error('type section entry is not a function type');
        const params = Array.from({ length: r.u32() }, () => r.valtype());
        const results = Array.from({ length: r.u32() }, () => r.valtype());
        types.push({ params, results });
      }
    } else if (id === 2) {
      for (let n = r.u32(); n > 0; n--) {
        const module = r.name();
        const name = r.name();
        const kind = r.byte();
        if (kind === 0) {
          const index = r.u32();
          funcTypes.push(index);
          imports.set(`${module}.${name}`, types[index]!);
        } else if (kind === 1) {
          r.byte();
          r.limits();
        } else if (kind === 2) r.limits();
        else if (kind === 3) {
          r.valtype();
          r.byte();
        } else if (kind === 4) {
          r.byte();
          r.u32();
        } else throw new Error(`unknown import kind ${kind}`);
      }
    } else if (id === 3) {
      for (let n = r.u32(); n > 0; n--) funcTypes.push(r.u32());
    } else if (id === 7) {
      for (let n = r.u32(); n > 0; n--) {
        const name = r.name();
        const kind = r.byte();
        const index = r.u32();
        if (kind === 0) exports.set(name, types[funcTypes[index]!]!);
      }
    }
    r.at = end;
  }
  return { imports, exports };
}
