// Garmin $PGRME, "Estimated Error Information", as documented in Garmin's GPS 18 Technical
// Specifications (190-00307-00, section 4.2.10; the same in the GPS 15x, 16x and 19x specs):
//
//   $PGRME,<1>,M,<2>,M,<3>,M*hh
//   <1> estimated horizontal position error (HPE), 0.0 to 999.9 metres
//   <2> estimated vertical position error (VPE), 0.0 to 999.9 metres
//   <3> estimated position error (EPE), 0.0 to 999.9 metres
//
// @signalk/nmea0183-signalk 3.x decodes no Garmin sentence (its proprietary hooks are PBVE, PNKEP
// and PSMDST), so without this plugin these figures are lost.

import { parseDecimal } from './sentence'

export const PGRME_ADDRESS = 'PGRME'

/** Values in metres; NaN where the receiver left the field empty (no fix yet). */
export class EstimatedError {
  horizontal: f64 = NaN
  vertical: f64 = NaN
  position: f64 = NaN
}

/** Decodes the fields of a checksum-verified $PGRME; null when they do not follow the format. */
export function decodePgrme(fields: string[]): EstimatedError | null {
  if (fields.length < 7 || fields[0] != PGRME_ADDRESS) return null
  const e = new EstimatedError()
  for (let i = 0; i < 3; i++) {
    const value = parseDecimal(fields[1 + 2 * i])
    const unit = fields[2 + 2 * i]
    if (value < 0) return null
    if (!isNaN(value) && unit != 'M') return null
    if (i == 0) e.horizontal = value
    else if (i == 1) e.vertical = value
    else e.position = value
  }
  return e
}
