// Small helpers over the upstream SDK's delta classes, for the emit code every plugin repeats.

import { Delta, PathValue, Update, emit } from '@signalk/assemblyscript-plugin-sdk/assembly'

/** Emits one delta with these values (JSON-encoded, see PathValue) for `context`. */
export function emitValues(values: PathValue[], context: string = 'vessels.self'): void {
  emit(new Delta(context, [new Update(values)]))
}

/** Emits one value (JSON-encoded) under `path` of the self vessel. */
export function emitValue(path: string, valueJson: string): void {
  emitValues([new PathValue(path, valueJson)])
}

const HEX = '0123456789abcdef'

/** `s` as a JSON string literal (quoted and escaped), for PathValue values and status JSON. */
export function jsonString(s: string): string {
  let out = '"'
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c == 0x22) out += '\\"'
    else if (c == 0x5c) out += '\\\\'
    else if (c == 0x0a) out += '\\n'
    else if (c == 0x0d) out += '\\r'
    else if (c == 0x09) out += '\\t'
    else if (c < 0x20) out += '\\u00' + HEX.charAt(c >> 4) + HEX.charAt(c & 15)
    else out += String.fromCharCode(c)
  }
  return out + '"'
}
