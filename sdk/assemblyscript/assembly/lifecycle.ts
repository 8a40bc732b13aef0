// The four lifecycle exports every upstream plugin writes by hand, forwarding to one registered
// Plugin object. AssemblyScript exports what the entry file re-exports, so a plugin writes:
//
//   registerPlugin(new MyPlugin())
//   export { plugin_name, plugin_schema, plugin_start, plugin_stop } from '@signalk-edge/hal-sdk/assembly/lifecycle'
//
// and the module has the same exports, with the same signatures, as a hand-written one.

import { Plugin } from '@signalk/assemblyscript-plugin-sdk/assembly'

let registered: Plugin | null = null

/** Makes `plugin` the one the lifecycle exports call; do it at the top level of the entry file. */
export function registerPlugin(plugin: Plugin): void {
  registered = plugin
}

function current(): Plugin {
  const p = registered
  if (p === null) throw new Error('no plugin registered: call registerPlugin(new MyPlugin()) in the entry file')
  return p
}

export function plugin_name(): string {
  return current().name()
}

export function plugin_schema(): string {
  return current().schema()
}

/** The host passes the configuration JSON as (ptr, len) UTF-8. */
export function plugin_start(configPtr: usize, configLen: usize): i32 {
  return current().start(String.UTF8.decodeUnsafe(configPtr, configLen))
}

export function plugin_stop(): i32 {
  return current().stop()
}
