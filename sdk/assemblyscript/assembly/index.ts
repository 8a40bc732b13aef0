// @signalk-edge/hal-sdk: serial, CAN and MQTT access for Signal K WASM plugins on signalk-edge,
// next to the upstream @signalk/assemblyscript-plugin-sdk (deltas, status, config).

export * from './errors'
export * from './serial'
export * from './can'
export * from './mqtt'
export * from './emit'
export * from './vfs'
export { registerPlugin } from './lifecycle'
