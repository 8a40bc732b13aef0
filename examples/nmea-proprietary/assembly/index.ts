// Garmin $PGRME from a serial NMEA 0183 device, read through the signalk-edge HAL. Opens the
// configured device in NMEA-lines mode, checks each line's checksum, decodes $PGRME and ignores
// every other line (the runtime's own NMEA source handles the standard sentences). When the open
// is refused (no grant yet, device absent) it shows the HAL's reason and retries every poll, so a
// grant given later takes effect without a restart.
//
// Paths (metres): Signal K has no key for a receiver's own error estimate (horizontalDilution is
// a unitless DOP, a different figure), so the three values go next to the gnss keys under names
// that follow Garmin's HPE / VPE / EPE:
//   navigation.gnss.estimatedHorizontalError, navigation.gnss.estimatedVerticalError,
//   navigation.gnss.estimatedPositionError

import { Plugin, PathValue, setError, setStatus, JSON } from '@signalk/assemblyscript-plugin-sdk/assembly'
import {
  SerialPort,
  SERIAL_LINES,
  HAL_DENIED,
  HAL_NOT_FOUND,
  emitValues,
  lastHalCode,
  lastHalError,
  registerPlugin,
} from '../../../sdk/assemblyscript/assembly'
import { parseSentence, SENTENCE_MALFORMED, SENTENCE_OK } from './sentence'
import { decodePgrme, EstimatedError, PGRME_ADDRESS } from './pgrme'

export { plugin_name, plugin_schema, plugin_start, plugin_stop } from '../../../sdk/assemblyscript/assembly/lifecycle'

const DEFAULT_DEVICE = 'nmea1'
/**
 * The status is refreshed every this many polls (the host logs each change), and at once when a
 * count leaves zero, so the first decoded sentence and the first problem of each kind show promptly.
 */
const STATUS_EVERY_POLLS: i32 = 10

let device = DEFAULT_DEVICE
let baudRate: i32 = 0
let port: SerialPort | null = null
let lastError = ''
let lastStatus = ''
let polls: i32 = 0

let decoded: i64 = 0
let badChecksum: i64 = 0
let malformed: i64 = 0
let ignored: i64 = 0
let last: EstimatedError | null = null
let firstOfKind = false

function reportError(message: string): void {
  if (message == lastError) return
  lastError = message
  setError(message)
}

function statusText(): string {
  let s = 'Reading $PGRME from ' + device + ': '
  const e = last
  if (e !== null && !isNaN(e.horizontal)) s += 'horizontal error ' + e.horizontal.toString() + ' m; '
  return (
    s + decoded.toString() + ' decoded, ' + badChecksum.toString() + ' bad checksum, ' + malformed.toString() + ' malformed, ' + ignored.toString() + ' other lines ignored'
  )
}

function updateStatus(): void {
  const text = statusText()
  if (text == lastStatus) return
  lastStatus = text
  setStatus(text)
}

function tryOpen(): void {
  const p = SerialPort.open(device, SERIAL_LINES, baudRate)
  if (p === null) {
    reportError('cannot open ' + device + ': ' + lastHalError())
    return
  }
  port = p
  // The host keeps an error until it is replaced: clear the refusal now that the port is open.
  if (lastError != '') setError('')
  lastError = ''
  updateStatus()
}

function publish(e: EstimatedError): void {
  const values = new Array<PathValue>()
  if (!isNaN(e.horizontal)) values.push(new PathValue('navigation.gnss.estimatedHorizontalError', e.horizontal.toString()))
  if (!isNaN(e.vertical)) values.push(new PathValue('navigation.gnss.estimatedVerticalError', e.vertical.toString()))
  if (!isNaN(e.position)) values.push(new PathValue('navigation.gnss.estimatedPositionError', e.position.toString()))
  if (values.length > 0) emitValues(values)
}

function handleLine(line: string): void {
  const s = parseSentence(line)
  if (s.status != SENTENCE_OK) {
    // Only ours count as bad: other talkers' lines (AIS, checksum-less sentences) are not our business.
    if (line.indexOf('$' + PGRME_ADDRESS) < 0) ignored++
    else if (s.status == SENTENCE_MALFORMED) {
      if (malformed++ == 0) firstOfKind = true
    } else if (badChecksum++ == 0) firstOfKind = true
    return
  }
  if (s.fields[0] != PGRME_ADDRESS) {
    ignored++
    return
  }
  const e = decodePgrme(s.fields)
  if (e === null) {
    if (malformed++ == 0) firstOfKind = true
    return
  }
  if (decoded++ == 0) firstOfKind = true
  last = e
  publish(e)
}

/** Reads every pending line. A handle the host no longer knows (grant revoked) is dropped and reopened on poll. */
function drain(): void {
  const p = port
  if (p === null) return
  for (;;) {
    const line = p.readLine()
    if (line === null) break
    handleLine(line)
  }
  if (firstOfKind) {
    firstOfKind = false
    updateStatus()
  }
  const rc = lastHalCode()
  if (rc >= 0) return
  reportError('reading ' + device + ': ' + lastHalError())
  if (rc == HAL_NOT_FOUND || rc == HAL_DENIED) {
    p.close()
    port = null
  }
}

function configString(config: JSON.Obj, key: string, fallback: string): string {
  const v = config.getString(key)
  return v === null ? fallback : v.valueOf()
}

function configInteger(config: JSON.Obj, key: string, fallback: i32): i32 {
  const v = config.getInteger(key)
  return v === null ? fallback : <i32>v.valueOf()
}

class NmeaProprietaryPlugin extends Plugin {
  name(): string {
    return 'NMEA proprietary (Garmin PGRME)'
  }
  schema(): string {
    return (
      '{"type":"object","properties":{' +
      '"device":{"type":"string","title":"Serial device: a path such as /dev/ttyUSB0 or a board alias such as nmea1","default":"' +
      DEFAULT_DEVICE +
      '"},' +
      '"baudRate":{"type":"integer","title":"Baud rate (0 = the speed configured for the port, else 4800)","enum":[0,4800,9600,19200,38400,57600,115200],"default":0}' +
      '}}'
    )
  }
  start(config: string): i32 {
    const root = JSON.parse(config)
    const obj = root.isObj ? (root as JSON.Obj) : new JSON.Obj()
    device = configString(obj, 'device', DEFAULT_DEVICE)
    baudRate = configInteger(obj, 'baudRate', 0)
    if (device.length == 0) {
      setError('configuration.device must name a serial device or board alias')
      return 1
    }
    decoded = 0
    badChecksum = 0
    malformed = 0
    ignored = 0
    last = null
    firstOfKind = false
    polls = 0
    lastError = ''
    lastStatus = ''
    tryOpen()
    return 0
  }
  stop(): i32 {
    const p = port
    if (p !== null) p.close()
    port = null
    lastStatus = 'Stopped'
    setStatus(lastStatus)
    return 0
  }
}

registerPlugin(new NmeaProprietaryPlugin())

/** Called by the host when the port has lines waiting (at most once per event-loop turn). */
export function hal_data(): void {
  drain()
}

/** Every second: retry a refused open, catch anything hal_data did not, refresh the status. */
export function poll(): i32 {
  polls++
  if (port === null) {
    tryOpen()
    return 0
  }
  drain()
  if (polls % STATUS_EVERY_POLLS == 0) updateStatus()
  return 0
}
