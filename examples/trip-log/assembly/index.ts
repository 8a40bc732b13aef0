// Trip log: counts position updates and sums the distance between successive fixes. The state
// lives in the plugin's VFS (/data/state.json): read in start, written every 30 polls and on stop,
// so the log survives restarts and reloads. Emits navigation.trip.log (metres).

import { Plugin, Delta, Update, PathValue, emit, setStatus, setError, JSON } from '@signalk/assemblyscript-plugin-sdk/assembly'
// The four lifecycle exports upstream plugins write by hand, from the repo's HAL SDK.
import { registerPlugin } from '../../../sdk/assemblyscript/assembly/lifecycle'
export { plugin_name, plugin_schema, plugin_start, plugin_stop } from '../../../sdk/assemblyscript/assembly/lifecycle'
// The VFS helpers of the repo's HAL SDK: the state file is replaced atomically (temp, fsync, rename).
import { readText, writeAtomic } from '../../../sdk/assemblyscript/assembly/vfs'

const STATE_FILE = 'data/state.json'
const EARTH_RADIUS_M: f64 = 6371000
const SAVE_EVERY_POLLS: i32 = 30

let deltas: i64 = 0
let distance: f64 = 0
let lastLat: f64 = NaN
let lastLon: f64 = NaN
let polls: i32 = 0
let dirty = false

function num(o: JSON.Obj, key: string): f64 {
  const v = o.getValue(key)
  if (v === null) return NaN
  if (v.isFloat) return (v as JSON.Float).valueOf()
  if (v.isInteger) return <f64>(v as JSON.Integer).valueOf()
  return NaN
}

function haversine(lat1: f64, lon1: f64, lat2: f64, lon2: f64): f64 {
  const rad = Math.PI / 180
  const dLat = (lat2 - lat1) * rad
  const dLon = (lon2 - lon1) * rad
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(a)))
}

function stateJson(): string {
  let s = '{"deltas":' + deltas.toString() + ',"distance":' + distance.toString()
  if (!isNaN(lastLat)) s += ',"lastPosition":{"latitude":' + lastLat.toString() + ',"longitude":' + lastLon.toString() + '}'
  return s + '}'
}

function loadState(): void {
  deltas = 0
  distance = 0
  lastLat = NaN
  lastLon = NaN
  const text = readText(STATE_FILE)
  if (text === null) return
  const root = JSON.parse(text)
  if (!root.isObj) return
  const o = root as JSON.Obj
  const d = num(o, 'deltas')
  if (!isNaN(d)) deltas = <i64>d
  const dist = num(o, 'distance')
  if (!isNaN(dist)) distance = dist
  const pos = o.getObj('lastPosition')
  if (pos !== null) {
    lastLat = num(pos, 'latitude')
    lastLon = num(pos, 'longitude')
  }
}

function saveState(): void {
  const errno = writeAtomic(STATE_FILE, stateJson(), true)
  if (errno != 0) setError('cannot write ' + STATE_FILE + ': WASI errno ' + errno.toString())
  else dirty = false
}

class TripLogPlugin extends Plugin {
  name(): string {
    return 'Trip log'
  }
  schema(): string {
    return '{"type":"object","properties":{}}'
  }
  start(config: string): i32 {
    loadState()
    polls = 0
    setStatus('Trip log: ' + (distance / 1852).toString() + ' nm, ' + deltas.toString() + ' positions')
    return 0
  }
  stop(): i32 {
    saveState()
    setStatus('Stopped')
    return 0
  }
}

registerPlugin(new TripLogPlugin())

export function delta_handler(deltaJson: string): void {
  const root = JSON.parse(deltaJson)
  if (!root.isObj) return
  const updates = (root as JSON.Obj).getArr('updates')
  if (updates === null) return
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
      const pos = pv.getObj('value')
      if (path === null || pos === null || path.valueOf() != 'navigation.position') continue
      const lat = num(pos, 'latitude')
      const lon = num(pos, 'longitude')
      if (isNaN(lat) || isNaN(lon)) continue
      if (!isNaN(lastLat)) distance += haversine(lastLat, lastLon, lat, lon)
      lastLat = lat
      lastLon = lon
      deltas++
      dirty = true
      emit(new Delta('vessels.self', [new Update([new PathValue('navigation.trip.log', distance.toString())])]))
    }
  }
}

export function poll(): i32 {
  polls++
  if (dirty && polls % SAVE_EVERY_POLLS == 0) saveState()
  return 0
}
