// True wind from apparent wind: subtracts the boat's own motion (speed through water, or over
// ground when no log is fitted) from the apparent wind vector, and with a heading also gives the
// compass direction the wind comes from. Upstream ABI: delta_handler receives each delta as JSON.

import { Plugin, Delta, Update, PathValue, emit, setStatus, JSON } from '@signalk/assemblyscript-plugin-sdk/assembly'
// The four lifecycle exports upstream plugins write by hand, from the repo's HAL SDK.
import { registerPlugin } from '../../../sdk/assemblyscript/assembly/lifecycle'
export { plugin_name, plugin_schema, plugin_start, plugin_stop } from '../../../sdk/assemblyscript/assembly/lifecycle'

let awa: f64 = NaN // environment.wind.angleApparent, rad, + to starboard
let aws: f64 = NaN // environment.wind.speedApparent, m/s
let stw: f64 = NaN // navigation.speedThroughWater, m/s
let sog: f64 = NaN // navigation.speedOverGround, m/s
let heading: f64 = NaN // navigation.headingTrue, rad
let derived: i32 = 0

function numberOf(v: JSON.Value | null): f64 {
  if (v === null) return NaN
  if (v.isFloat) return (v as JSON.Float).valueOf()
  if (v.isInteger) return <f64>(v as JSON.Integer).valueOf()
  return NaN
}

function normalizeAngle(a: f64): f64 {
  const twoPi = 2 * Math.PI
  let r = a % twoPi
  if (r < 0) r += twoPi
  return r
}

class TrueWindPlugin extends Plugin {
  name(): string {
    return 'True wind'
  }
  schema(): string {
    return '{"type":"object","properties":{}}'
  }
  start(config: string): i32 {
    derived = 0
    setStatus('Waiting for apparent wind and boat speed')
    return 0
  }
  stop(): i32 {
    setStatus('Stopped')
    return 0
  }
}

registerPlugin(new TrueWindPlugin())

/** Reads the values we need from one delta; true when the apparent wind changed. */
function absorb(deltaJson: string): bool {
  const root = JSON.parse(deltaJson)
  if (!root.isObj) return false
  const updates = (root as JSON.Obj).getArr('updates')
  if (updates === null) return false
  let windChanged = false
  const ups = updates.valueOf()
  for (let i = 0; i < ups.length; i++) {
    if (!ups[i].isObj) continue
    const values = (ups[i] as JSON.Obj).getArr('values')
    if (values === null) continue
    const list = values.valueOf()
    for (let j = 0; j < list.length; j++) {
      if (!list[j].isObj) continue
      const pv = list[j] as JSON.Obj
      const path = pv.getString('path')
      if (path === null) continue
      const p = path.valueOf()
      const n = numberOf(pv.getValue('value'))
      if (isNaN(n)) continue
      if (p == 'environment.wind.angleApparent') {
        awa = n
        windChanged = true
      } else if (p == 'environment.wind.speedApparent') {
        aws = n
        windChanged = true
      } else if (p == 'navigation.speedThroughWater') stw = n
      else if (p == 'navigation.speedOverGround') sog = n
      else if (p == 'navigation.headingTrue') heading = n
    }
  }
  return windChanged
}

export function delta_handler(deltaJson: string): void {
  if (!absorb(deltaJson)) return
  const speed = isNaN(stw) ? sog : stw
  if (isNaN(awa) || isNaN(aws) || isNaN(speed)) return
  // Boat frame: x ahead, y to starboard; the wind vector points where the wind comes from.
  const x = aws * Math.cos(awa) - speed
  const y = aws * Math.sin(awa)
  const angleTrue = Math.atan2(y, x)
  const speedTrue = Math.sqrt(x * x + y * y)
  const values: PathValue[] = [
    new PathValue('environment.wind.angleTrueWater', angleTrue.toString()),
    new PathValue('environment.wind.speedTrue', speedTrue.toString()),
  ]
  if (!isNaN(heading)) values.push(new PathValue('environment.wind.directionTrue', normalizeAngle(heading + angleTrue).toString()))
  emit(new Delta('vessels.self', [new Update(values)]))
  derived++
  if (derived == 1) setStatus('Deriving true wind')
}
