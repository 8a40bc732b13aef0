// What a runtime with nothing configured loads (decision 0098): the field libraries and validators
// that only a CAN source, a broker, a plugin schema or a resource body needs are loaded at their
// first use, not at start. A preload records the CommonJS packages the child process loaded.
// Our own feature modules load when configured (decision 0105): a source type's codec and driver
// with a source of that type, the plugin runner and engine with a plugin, MQTT with a broker.

import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Fastify from 'fastify';
import { startChildRuntime } from '../helpers/child-runtime.js';
import { tempDir } from '../helpers/temp.js';
import { lazySchemaCompilers } from '../../runtime/api/schema-compilers.js';

/** Packages (node_modules/<name>) among the loaded files. */
function packages(files: string[]): Set<string> {
  const names = new Set<string>();
  for (const f of files) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(f);
    if (m) names.add(m[1]!);
  }
  return names;
}

test('a bare runtime loads no N2K, MQTT, ajv or JSON-serializer library', async (t) => {
  const dir = tempDir(t, 'ske-bare-modules-');
  const list = join(dir, 'loaded.json');
  const preload = join(dir, 'record.cjs');
  writeFileSync(
    preload,
    `process.on('exit', () => require('node:fs').writeFileSync(${JSON.stringify(list)}, JSON.stringify(Object.keys(require.cache))));\n`,
  );
  const child = await startChildRuntime({ nodeFlags: ['--require', preload] });
  await child.stop();
  const loaded = packages(JSON.parse(readFileSync(list, 'utf8')) as string[]);
  t.true(loaded.has('fastify'), `the preload saw the runtime's packages: ${[...loaded].join(', ')}`);
  for (const lazy of [
    '@canboat/canboatjs',
    '@signalk/n2k-signalk',
    '@signalk/nmea0183-signalk',
    'mqtt',
    'ajv',
    '@fastify/ajv-compiler',
    '@fastify/fast-json-stringify-compiler',
  ])
    t.false(loaded.has(lazy), `${lazy} loaded at start`);
});

/** What a runtime with nothing configured must not load (dist paths; a trailing / is a whole folder). */
const FEATURE_MODULES = [
  'hal/codecs/',
  'hal/framing.js',
  'hal/can/gateway/driver.js',
  'hal/can/gateway/log-lines.js',
  'hal/can/replay.js',
  'hal/can/shared-interface.js',
  'hal/serial/replay.js',
  'hal/serial/shared-device.js',
  'hal/net/tcp.js',
  'hal/net/udp.js',
  'hal/net/mqtt-connection.js',
  'runtime/mqtt/service.js',
  'runtime/mqtt/bridge.js',
  'runtime/plugins/runner.js',
  'runtime/plugins/instance-loader.js',
  'runtime/engine/index.js',
  'runtime/engine/command.js',
  'runtime/engine/marshal.js',
  'runtime/abi/as-fetch.js',
  'runtime/abi/wasi.js',
  'runtime/abi/devices/',
];

test("a bare runtime loads no other command's module (doctor, selftest, compile, ...) and no unused feature", async (t) => {
  const dir = tempDir(t, 'ske-bare-esm-');
  const list = join(dir, 'loaded.txt');
  // A module-loading hook (run on Node's hooks thread) that notes every ES module file loaded.
  const hook = `import { appendFileSync } from 'node:fs';
export async function load(url, context, next) {
  if (url.startsWith('file:')) appendFileSync(${JSON.stringify(list)}, url + '\\n');
  return next(url, context);
}`;
  const preload = join(dir, 'register.mjs');
  writeFileSync(
    preload,
    `import { register } from 'node:module';\nregister(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});\n`,
  );
  const child = await startChildRuntime({ nodeFlags: ['--import', preload] });
  await child.stop();
  const loaded = readFileSync(list, 'utf8').split('\n');
  t.true(
    loaded.some((u) => u.endsWith('/dist/runtime/cli/main.js')),
    'the hook saw the runtime start',
  );
  const others = loaded
    .filter((u) => /\/dist\/runtime\/(cli|selftest)\//.test(u))
    .map((u) => u.replace(/^.*\/dist\//, ''))
    .filter(
      (f) => !['runtime/cli/main.js', 'runtime/cli/command-error.js', 'runtime/cli/selftest-usage.js'].includes(f),
    );
  t.deepEqual(others, []);
  const ours = loaded.map((u) => u.replace(/^.*\/dist\//, ''));
  const features = ours.filter((f) => FEATURE_MODULES.some((m) => (m.endsWith('/') ? f.startsWith(m) : f === m)));
  t.deepEqual(features, [], 'source codecs and drivers, the plugin runner and engine, MQTT');
  t.true(ours.includes('hal/sources/table.js'), 'the paths above are the ones the runtime loads from');
});

test("fastify's schema compilers, loaded at the first schema, validate and serialize as fastify's own", async (t) => {
  const app = Fastify({ logger: false, schemaController: { compilersFactory: lazySchemaCompilers } });
  app.post(
    '/echo',
    {
      schema: {
        body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } },
        response: { 200: { type: 'object', properties: { n: { type: 'integer' } } } },
      },
    },
    (req) => ({ n: (req.body as { n: number }).n, hidden: 'not in the response schema' }),
  );
  t.teardown(() => app.close());
  const good = await app.inject({ method: 'POST', url: '/echo', payload: { n: 3 } });
  t.is(good.statusCode, 200);
  t.deepEqual(good.json(), { n: 3 });
  const bad = await app.inject({ method: 'POST', url: '/echo', payload: { n: 'three' } });
  t.is(bad.statusCode, 400);
  t.regex(bad.json<{ message: string }>().message, /body\/n must be integer/);
});
