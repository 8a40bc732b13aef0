// Current set and drift from NMEA 0183, as a pure function of the lines: the boat's track through
// the water ($--VHW: heading true, speed through water) against its track over the ground ($--RMC:
// course and speed over ground). The current is the difference of the two velocity vectors:
// drift = its speed (m/s), setTrue = the direction it flows towards (radians from true north).
// Both readings must be younger than MAX_AGE_MS. Shared with the library-plugin twin used by the
// benchmark (test/fixtures/plugins/nmea-current-lib), so both do exactly the same work.

const KNOT: f64 = 1852.0 / 3600.0
const KMH: f64 = 1000.0 / 3600.0
const DEG: f64 = Math.PI / 180.0
const TWO_PI: f64 = 2.0 * Math.PI
/** A reading older than this is not combined with a newer one of the other kind. */
export const MAX_AGE_MS: i64 = 10_000

/** A velocity: direction (radians, true) and speed (m/s), and when it was read (ms). */
class Track {
  known: bool = false
  direction: f64 = 0
  speed: f64 = 0
  at: i64 = 0
}

function hexDigit(c: i32): i32 {
  if (c >= 0x30 && c <= 0x39) return c - 0x30
  if (c >= 0x41 && c <= 0x46) return c - 0x37
  if (c >= 0x61 && c <= 0x66) return c - 0x57
  return -1
}

/** `$<fields>*hh` with a matching checksum (XOR of the characters between `$` and `*`) → the fields; else null. */
export function checkedFields(text: string): string[] | null {
  const star = text.length - 3
  if (star < 2 || text.charCodeAt(0) != 0x24 || text.charCodeAt(star) != 0x2a) return null
  const hi = hexDigit(text.charCodeAt(star + 1))
  const lo = hexDigit(text.charCodeAt(star + 2))
  if (hi < 0 || lo < 0) return null
  let sum = 0
  for (let i = 1; i < star; i++) sum ^= text.charCodeAt(i)
  return sum == ((hi << 4) | lo) ? text.substring(1, star).split(',') : null
}

/** A non-negative number field; NaN when empty or not a number. */
function quantity(field: string): f64 {
  if (field.length == 0) return NaN
  const v = parseFloat(field)
  return isFinite(v) && v >= 0 ? v : NaN
}

export class CurrentEstimator {
  private readonly water: Track = new Track()
  private readonly ground: Track = new Track()
  /** Lines that were sentences with a good checksum, and those with a bad one. */
  sentences: i64 = 0
  badChecksum: i64 = 0

  /** Takes one NMEA line read at `now` (ms); returns the delta to emit (JSON) or null. */
  line(text: string, now: i64): string | null {
    if (text.length == 0 || text.charCodeAt(0) != 0x24) return null
    const f = checkedFields(text)
    if (f === null) {
      this.badChecksum++
      return null
    }
    this.sentences++
    const address = f[0]
    if (address.length != 5) return null
    const kind = address.substring(2)
    if (kind == 'VHW') {
      if (!this.vhw(f, now)) return null
    } else if (kind == 'RMC') {
      if (!this.rmc(f, now)) return null
    } else {
      return null
    }
    return this.current(now)
  }

  /** $--VHW,<heading true>,T,<heading magnetic>,M,<knots>,N,<km/h>,K */
  private vhw(f: string[], now: i64): bool {
    if (f.length < 9) return false
    const heading = quantity(f[1])
    let speed = quantity(f[5]) * KNOT
    if (isNaN(speed)) speed = quantity(f[7]) * KMH
    if (isNaN(heading) || isNaN(speed)) return false
    return this.set(this.water, heading, speed, now)
  }

  /** $--RMC,<time>,<A|V>,<lat>,<N|S>,<lon>,<E|W>,<knots>,<course true>,<date>,... */
  private rmc(f: string[], now: i64): bool {
    if (f.length < 10 || f[2] != 'A') return false
    const speed = quantity(f[7]) * KNOT
    let course = quantity(f[8])
    // Receivers leave the course empty when not moving.
    if (isNaN(course) && speed == 0) course = 0
    if (isNaN(course) || isNaN(speed)) return false
    return this.set(this.ground, course, speed, now)
  }

  private set(t: Track, degrees: f64, speed: f64, now: i64): bool {
    t.known = true
    t.direction = degrees * DEG
    t.speed = speed
    t.at = now
    return true
  }

  /** The current as a delta, when both tracks are known and recent. */
  private current(now: i64): string | null {
    const w = this.water
    const g = this.ground
    if (!w.known || !g.known || now - w.at > MAX_AGE_MS || now - g.at > MAX_AGE_MS) return null
    const north = g.speed * Math.cos(g.direction) - w.speed * Math.cos(w.direction)
    const east = g.speed * Math.sin(g.direction) - w.speed * Math.sin(w.direction)
    const drift = Math.sqrt(north * north + east * east)
    let set = Math.atan2(east, north)
    if (set < 0) set += TWO_PI
    return (
      '{"updates":[{"values":[{"path":"environment.current","value":{"setTrue":' +
      round(set).toString() +
      ',"drift":' +
      round(drift).toString() +
      '}}]}]}'
    )
  }
}

/** Four decimals: 0.1 mrad and 0.1 mm/s are far below what the instruments resolve. */
function round(v: f64): f64 {
  return Math.round(v * 10000.0) / 10000.0
}
