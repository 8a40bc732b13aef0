// The plugin side of the HAL ABI: the wit description, the host's `signalk_hal` functions and the
// imports of the plugins built with sdk/assemblyscript must name the same functions with the same
// (all-i32) signatures, and the SDK's lifecycle re-exports must look like hand-written ones.

import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDeviceImports, DEVICE_MODULE } from '../../runtime/abi/devices/index.js';
import { GuestMemory } from '../../runtime/abi/memory.js';
import { CapabilityPolicy } from '../../runtime/capabilities/policy.js';
import { FLAG_NAMES } from '../../runtime/capabilities/grant.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { createDevices } from '../../hal/devices.js';
import { ensurePluginsBuilt, exampleWasm, fixtureWasm } from '../helpers/plugin-wasm.js';
import { readSignatures, type FuncSig } from '../helpers/wasm-signatures.js';

/** The plugins built against the HAL SDK. */
const HAL_PLUGINS = [
  exampleWasm('nmea-proprietary'),
  fixtureWasm('hal-can-reader'),
  fixtureWasm('hal-mqtt-probe'),
  fixtureWasm('hal-serial-probe'),
];

/** Core-module signatures of `interface hal` in wit/signalk.wit: string/list = (ptr, len), scalars one i32. */
function witHalSignatures(): Map<string, FuncSig> {
  const wit = readFileSync(join(PROJECT_ROOT, 'wit', 'signalk.wit'), 'utf8');
  const body = /^interface hal \{\n([\s\S]*?)^\}/m.exec(wit)?.[1];
  if (body === undefined) throw new Error('wit/signalk.wit has no `interface hal { ... }`');
  const sigs = new Map<string, FuncSig>();
  for (const m of body.matchAll(/^\s*([a-z][a-z-]*): func\(([^)]*)\)(?: -> (\w+))?;/gm)) {
    const params = m[2]!.trim() === '' ? [] : m[2]!.split(',').map((p) => p.split(':')[1]!.trim());
    const wasmParams = params.flatMap((type): FuncSig['params'] => {
      if (type === 'string' || type.startsWith('list<')) return ['i32', 'i32'];
      if (type === 's32' || type === 'u32') return ['i32'];
      throw new Error(`wit hal.${m[1]}: unexpected parameter type ${type}`);
    });
    if (m[3] !== undefined && m[3] !== 's32') throw new Error(`wit hal.${m[1]}: unexpected result type ${m[3]}`);
    sigs.set(m[1]!.replace(/-/g, '_'), { params: wasmParams, results: m[3] ? ['i32'] : [] });
  }
  return sigs;
}

/** Name → arity of the functions the host builds for `signalk_hal` (nothing is called). */
function hostHalArity(): Map<string, number> {
  const noFlags = Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as Record<(typeof FLAG_NAMES)[number], boolean>;
  const policy = new CapabilityPolicy({ requestedFlags: noFlags, requests: [], granted: [], aliases: {} });
  const imports = createDeviceImports(
    {
      pluginId: 'abi-check',
      devices: createDevices(),
      policy: () => policy,
      deny: (cap) => `not granted: ${cap}`,
      mqtt: () => undefined,
      dataReady: () => {},
    },
    new GuestMemory(),
  );
  return new Map(Object.entries(imports.functions).map(([name, fn]) => [name, fn.length]));
}

const ABI = witHalSignatures();

test('the wit hal interface and the host (runtime/abi/devices/) define the same functions with the same arity', (t) => {
  t.is(DEVICE_MODULE, 'signalk_hal');
  t.deepEqual([...ABI.keys()].sort(), [
    'can_close',
    'can_open',
    'can_read',
    'can_send',
    'hal_last_error',
    'mqtt_poll',
    'mqtt_publish',
    'mqtt_subscribe',
    'mqtt_unsubscribe',
    'serial_close',
    'serial_open',
    'serial_read',
    'serial_write',
  ]);
  const host = hostHalArity();
  t.deepEqual([...host.keys()].sort(), [...ABI.keys()].sort());
  for (const [name, sig] of ABI) {
    t.true(
      sig.params.every((p) => p === 'i32') && sig.results.length === 1 && sig.results[0] === 'i32',
      `${name}: i32 params, one i32 result`,
    );
    t.is(host.get(name), sig.params.length, `${name}: host arity`);
  }
});

test('plugins built with the HAL SDK import only ABI functions, with the ABI signatures, and together all of them', async (t) => {
  await ensurePluginsBuilt();
  const used = new Set<string>();
  for (const file of HAL_PLUGINS) {
    const { imports } = readSignatures(readFileSync(file));
    for (const [key, sig] of imports) {
      const [module, name] = key.split('.') as [string, string];
      t.true(module === 'env' || module === DEVICE_MODULE, `${file}: imports from ${module}`);
      if (module !== DEVICE_MODULE) continue;
      t.deepEqual(sig, ABI.get(name), `${file}: ${name}`);
      used.add(name);
    }
  }
  t.deepEqual([...used].sort(), [...ABI.keys()].sort());
});

test('the SDK lifecycle re-exports and the HAL exports have the signatures the host calls', async (t) => {
  await ensurePluginsBuilt();
  const expected: Record<string, FuncSig> = {
    plugin_name: { params: [], results: ['i32'] },
    plugin_schema: { params: [], results: ['i32'] },
    plugin_start: { params: ['i32', 'i32'], results: ['i32'] },
    plugin_stop: { params: [], results: ['i32'] },
    hal_data: { params: [], results: [] },
    poll: { params: [], results: ['i32'] },
  };
  for (const file of HAL_PLUGINS) {
    const { exports } = readSignatures(readFileSync(file));
    for (const [name, sig] of Object.entries(expected)) t.deepEqual(exports.get(name), sig, `${file}: export ${name}`);
  }
});
