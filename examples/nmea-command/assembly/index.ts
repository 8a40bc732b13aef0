// nmea-command: a signalk-edge command plugin. It is an ordinary WASI program with no plugin SDK:
// it reads NMEA 0183 lines on stdin (the runtime writes there what the operator granted: here the
// serial device named in package.json `signalkEdge.stdin.serial`), and writes one Signal K delta
// per line on stdout; stderr goes to the plugin's log. It ends at end of input (the runtime closes
// stdin to stop it). Built with @assemblyscript/wasi-shim (asconfig.json), so the top-level code
// is `_start`.

import { fd_write } from '@assemblyscript/wasi-shim/assembly/bindings/wasi_snapshot_preview1'
import { CurrentEstimator } from './current'

/** NMEA 0183 allows 82 characters; longer lines are not sentences and are skipped. */
const MAX_LINE = 512

/**
 * Writes all of `text` to stdout. fd_write may take only part of it when the pipe is full (the
 * runtime has not read yet), and the shim's process.stdout.write does not retry: it would lose
 * the rest.
 */
function writeAll(text: string): void {
  const data = String.UTF8.encode(text)
  const start = changetype<usize>(data)
  const length = <usize>data.byteLength
  const iov = memory.data(8)
  const written = memory.data(4)
  let done: usize = 0
  while (done < length) {
    store<u32>(iov, <u32>(start + done))
    store<u32>(iov, <u32>(length - done), 4)
    if (fd_write(1, iov, 1, written) != 0) return // stdout is gone: the runtime is stopping us
    done += load<u32>(written)
  }
}

const estimator = new CurrentEstimator()
const input = new ArrayBuffer(4096)
const line = new Uint8Array(MAX_LINE)
let length = 0
let overlong = false
let lines: i64 = 0
let deltas: i64 = 0

process.stderr.write('nmea-command: reading NMEA 0183 on stdin, writing environment.current deltas\n')
while (true) {
  const n = process.stdin.read(input)
  if (n <= 0) break
  const bytes = Uint8Array.wrap(input, 0, n)
  const now = Date.now()
  let out = ''
  for (let i = 0; i < n; i++) {
    const b = unchecked(bytes[i])
    if (b != 0x0a && b != 0x0d) {
      if (length < MAX_LINE) unchecked((line[length++] = b))
      else overlong = true
      continue
    }
    if (length > 0 && !overlong) {
      lines++
      const delta = estimator.line(String.UTF8.decodeUnsafe(line.dataStart, length), now)
      if (delta !== null) {
        out += delta + '\n'
        deltas++
      }
    }
    length = 0
    overlong = false
  }
  // One write per chunk read, not per delta.
  if (out.length > 0) writeAll(out)
}
process.stderr.write(
  'nmea-command: end of input after ' + lines.toString() + ' lines, ' + estimator.sentences.toString() + ' sentences (' +
    estimator.badChecksum.toString() + ' with a bad checksum), ' + deltas.toString() + ' deltas\n',
)
