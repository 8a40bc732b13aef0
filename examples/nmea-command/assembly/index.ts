// nmea-command: a signalk-edge command plugin. It is an ordinary WASI program with no plugin SDK:
// it reads NMEA 0183 lines on stdin (the runtime writes there what the operator granted: here the
// serial device named in package.json `signalkEdge.stdin.serial`), and writes one Signal K delta
// per line on stdout; stderr goes to the plugin's log. It ends at end of input (the runtime closes
// stdin to stop it). Built with @assemblyscript/wasi-shim (asconfig.json), so the top-level code
// is `_start`.

import { CurrentEstimator } from './current'

/** NMEA 0183 allows 82 characters; longer lines are not sentences and are skipped. */
const MAX_LINE = 512

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
      const delta = estimator.line(String.UTF8.decodeUnsafe(line.dataStart, length), Date.now())
      if (delta !== null) {
        out += delta + '\n'
        deltas++
      }
    }
    length = 0
    overlong = false
  }
  // One write per chunk read, not per delta.
  if (out.length > 0) process.stdout.write(out)
}
process.stderr.write(
  'nmea-command: end of input after ' + lines.toString() + ' lines, ' + estimator.sentences.toString() + ' sentences (' +
    estimator.badChecksum.toString() + ' with a bad checksum), ' + deltas.toString() + ' deltas\n',
)
