// PUT example: registers a handler for vessels.self electrical.switches.anchorLight.state. On PUT
// the host calls the export named handle_put_<context>_<path> (dots as underscores) with the value
// as JSON text; the plugin publishes the new state as a delta and answers COMPLETED.

import { Plugin, Delta, Update, PathValue, emit, setStatus, setError } from '@signalk/assemblyscript-plugin-sdk/assembly'
// The four lifecycle exports upstream plugins write by hand, from the repo's HAL SDK.
import { registerPlugin } from '../../../sdk/assemblyscript/assembly/lifecycle'
export { plugin_name, plugin_schema, plugin_start, plugin_stop } from '../../../sdk/assemblyscript/assembly/lifecycle'

@external("env", "sk_register_put_handler")
declare function sk_register_put_handler(ctxPtr: usize, ctxLen: usize, pathPtr: usize, pathLen: usize): i32

const CONTEXT = 'vessels.self'
const PATH = 'electrical.switches.anchorLight.state'

let lightOn = false

function registerPut(context: string, path: string): bool {
  const c = String.UTF8.encode(context)
  const p = String.UTF8.encode(path)
  return sk_register_put_handler(changetype<usize>(c), c.byteLength, changetype<usize>(p), p.byteLength) == 1
}

function publish(): void {
  emit(new Delta(CONTEXT, [new Update([new PathValue(PATH, lightOn ? '1' : '0')])]))
}

class AnchorLightPlugin extends Plugin {
  name(): string {
    return 'Anchor light'
  }
  schema(): string {
    return '{"type":"object","properties":{}}'
  }
  start(config: string): i32 {
    if (!registerPut(CONTEXT, PATH)) {
      setError('PUT handler for ' + PATH + ' was not registered (putHandlers capability?)')
      return 1
    }
    publish()
    setStatus('Anchor light ' + (lightOn ? 'on' : 'off'))
    return 0
  }
  stop(): i32 {
    return 0
  }
}

registerPlugin(new AnchorLightPlugin())

export function handle_put_vessels_self_electrical_switches_anchorLight_state(valueJson: string): string {
  const v = valueJson.trim()
  if (v == '1' || v == 'true') lightOn = true
  else if (v == '0' || v == 'false') lightOn = false
  else return '{"state":"COMPLETED","statusCode":400,"message":"expected 0, 1, true or false"}'
  publish()
  setStatus('Anchor light ' + (lightOn ? 'on' : 'off'))
  return '{"state":"COMPLETED","statusCode":200}'
}
