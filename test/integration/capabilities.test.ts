// Requests, grants and what is in effect: the grammar, the decisions (requested ∩ granted, default
// deny, board aliases, PGN and topic-filter intersections), the grants file and the CLI.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { formatGrant, parseGrant, parseGrantList, type Grant } from '../../runtime/capabilities/grant.js';
import { CapabilityPolicy, type Flags } from '../../runtime/capabilities/policy.js';
import { addGrant, GrantTable, readGrantsFile, removeGrant } from '../../runtime/capabilities/store.js';
import { FLAG_NAMES } from '../../runtime/capabilities/grant.js';
import { DenialLog } from '../../runtime/capabilities/denials.js';
import type { Logger } from '../../core/log.js';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { tempDir } from '../helpers/temp.js';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');

function grants(list: string[]): Grant[] {
  const parsed = parseGrantList(list);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.grants;
}

function flags(on: string[]): Flags {
  return Object.fromEntries(FLAG_NAMES.map((n) => [n, on.includes(n)])) as Flags;
}

function policy(
  requests: string[],
  granted: string[],
  requestedFlags: string[] = ['dataRead', 'dataWrite'],
): CapabilityPolicy {
  return new CapabilityPolicy({
    requestedFlags: flags(requestedFlags),
    requests: grants(requests),
    granted: grants(granted),
    aliases: { nmea1: '/dev/ttyUSB0', n2k: 'can0' },
  });
}

test('the grammar parses every kind and round-trips; bad strings name the problem', (t) => {
  for (const text of [
    'rawSockets',
    'serial:/dev/ttyUSB0',
    'serial:nmea1:write',
    'serial:*',
    'can:can0',
    'can:can0:129025,130306',
    'can:can0:write',
    'mqtt:publish:boat/+/temp',
    'mqtt:subscribe:#',
    'net:192.168.1.10:10110',
    'net:*:*',
  ]) {
    const parsed = parseGrant(text);
    t.true(parsed.ok, text);
    if (parsed.ok) t.is(formatGrant(parsed.grant), text);
  }
  const bad: [string, RegExp][] = [
    ['serial:', /device path or board alias/],
    ['can:can0:12x', /bad PGN list/],
    ['can:can0:999999', /bad PGN list/],
    ['mqtt:subscribe:boat/#/x', /not a valid MQTT topic filter/],
    ['mqtt:read:x', /mqtt:publish/],
    ['net:host:70000', /net:<host>:<port>/],
    ['disk', /unknown capability "disk"/],
  ];
  for (const [text, why] of bad) {
    const parsed = parseGrant(text);
    t.false(parsed.ok, text);
    if (!parsed.ok) t.regex(parsed.reason, why);
  }
});

test('default deny: a request without a grant, or a grant without a request, allows nothing', (t) => {
  const onlyRequested = policy(['serial:*', 'can:can0', 'mqtt:subscribe:#'], []);
  t.false(onlyRequested.serial('/dev/ttyUSB0', false));
  t.is(onlyRequested.canPgns('can0'), undefined);
  t.false(onlyRequested.mqttSubscribe('boat/x/temp'));
  const onlyGranted = policy([], ['serial:*', 'can:can0', 'mqtt:subscribe:#', 'rawSockets']);
  t.false(onlyGranted.serial('/dev/ttyUSB0', false));
  t.is(onlyGranted.canPgns('can0'), undefined);
  t.false(onlyGranted.flag('rawSockets'));
  t.deepEqual(onlyGranted.describe().effective, []);
});

test('serial: aliases resolve on both sides; write needs a write request and a write grant', (t) => {
  const p = policy(['serial:*', 'serial:*:write'], ['serial:nmea1']);
  t.true(p.serial('/dev/ttyUSB0', false));
  t.true(p.serial('nmea1', false));
  t.false(p.serial('/dev/ttyUSB1', false));
  t.false(p.serial('/dev/ttyUSB0', true));
  const w = policy(['serial:*:write'], ['serial:/dev/ttyUSB0:write']);
  t.true(w.serial('nmea1', true));
  t.true(w.serial('nmea1', false), 'a write grant also reads');
  t.deepEqual(w.describe().effective, ['serial:/dev/ttyUSB0:write']);
});

test('CAN: PGN sets intersect; write is its own grant', (t) => {
  const p = policy(['can:can0:129025,130306,128267'], ['can:n2k:129025,128267,127250', 'can:can0:write']);
  t.deepEqual([...(p.canPgns('can0') as Set<number>)].sort(), [128267, 129025]);
  t.false(p.canWrite('can0'), 'write not requested');
  t.is(policy(['can:can0'], ['can:can0']).canPgns('n2k'), 'all');
  t.is(policy(['can:can0:1'], ['can:can0:2']).canPgns('can0'), undefined);
  t.true(policy(['can:can0:write'], ['can:n2k:write']).canWrite('can0'));
});

test('MQTT: a granted filter must cover the subscription; publish topics must match', (t) => {
  const p = policy(['mqtt:subscribe:#', 'mqtt:publish:#'], ['mqtt:subscribe:boat/+/temp', 'mqtt:publish:boat/status']);
  t.true(p.mqttSubscribe('boat/+/temp'));
  t.true(p.mqttSubscribe('boat/engine/temp'));
  t.false(p.mqttSubscribe('#'));
  t.false(p.mqttSubscribe('boat/#'));
  t.true(p.mqttPublish('boat/status'));
  t.false(p.mqttPublish('boat/other'));
  t.deepEqual(p.describe().effective, ['mqtt:subscribe:boat/+/temp', 'mqtt:publish:boat/status']);
});

test('network: rawSockets alone allows any host; net: grants narrow it', (t) => {
  const broad = policy([], ['rawSockets'], ['rawSockets']);
  t.true(broad.net('10.0.0.1', 80));
  const narrow = policy([], ['rawSockets', 'net:192.168.1.10:10110'], ['rawSockets']);
  t.true(narrow.net('192.168.1.10', 10110));
  t.false(narrow.net('192.168.1.10', 10111));
  t.false(policy([], ['net:*:*']).net('10.0.0.1', 80), 'no request (rawSockets not declared)');
});

test('a denial is logged once per capability, counted, and logged again after grants change', (t) => {
  const lines: string[] = [];
  const log: Logger = { debug() {}, info() {}, warn: (m) => lines.push(m), error: (m) => lines.push(m), limited() {} };
  const denials = new DenialLog('p1', log);
  for (let i = 0; i < 5; i++) denials.deny('serial:/dev/ttyUSB0', 'serial_open');
  denials.deny('mqtt:subscribe:#', 'mqtt_subscribe');
  t.is(lines.length, 2);
  t.regex(
    lines[0]!,
    /serial_open denied: serial:\/dev\/ttyUSB0 is not granted to p1 \(grant it with: signalk-edge grant p1 serial:\/dev\/ttyUSB0\)/,
  );
  t.deepEqual(
    denials.list().map((d) => [d.capability, d.count]),
    [
      ['serial:/dev/ttyUSB0', 5],
      ['mqtt:subscribe:#', 1],
    ],
  );
  denials.clear();
  denials.deny('serial:/dev/ttyUSB0', 'serial_open');
  t.is(lines.length, 3);
});

test('the grants file: add, remove, atomic JSON; a broken file keeps the grants in force', (t) => {
  const dir = tempDir(t, 'ske-grants-');
  t.true(addGrant(dir, 'p1', 'serial:/dev/ttyUSB0'));
  t.false(addGrant(dir, 'p1', 'serial:/dev/ttyUSB0'));
  t.throws(() => addGrant(dir, 'p1', 'serial:'), { message: /device path/ });
  t.deepEqual(readGrantsFile(dir), { p1: ['serial:/dev/ttyUSB0'] });
  t.like(JSON.parse(readFileSync(join(dir, 'grants.json'), 'utf8')), { version: 1 });

  const table = new GrantTable({ '*': ['dataRead'] }, dir);
  t.deepEqual(table.grantsFor('p1').map(formatGrant), ['dataRead', 'serial:/dev/ttyUSB0']);
  writeFileSync(join(dir, 'grants.json'), '{"grants": {"p1": ["serial:/dev/ttyUSB1", 5]}}');
  const result = table.reload();
  t.regex(result.error ?? '', /grants\.p1: must be a list of grant strings/);
  t.deepEqual(
    table.grantsFor('p1').map(formatGrant),
    ['dataRead', 'serial:/dev/ttyUSB0'],
    'previous grants still apply',
  );
  writeFileSync(join(dir, 'grants.json'), '{"grants": {}}');
  t.true(table.reload().changed);
  t.false(removeGrant(dir, 'p1', 'serial:/dev/ttyUSB0'));
});

test('CLI: grant, grants and revoke on an installed plugin; clear errors', async (t) => {
  const data = tempDir(t, 'ske-cli-grants-');
  const plugins = join(data, 'plugins', 'probe');
  mkdirSync(plugins, { recursive: true });
  writeFileSync(
    join(plugins, 'package.json'),
    JSON.stringify({
      name: 'probe',
      version: '1.0.0',
      wasmManifest: 'plugin.wasm',
      wasmCapabilities: { serialPorts: true },
      signalkEdge: { requests: ['serial:*:write'] },
    }),
  );
  const settings = join(data, 'settings.json');
  writeFileSync(settings, JSON.stringify({ dataDir: data, plugins: { dirs: ['plugins'] }, board: 'rpi4' }));
  const cli = (...args: string[]) => run(process.execPath, [CLI, ...args, '--settings', settings]);

  const granted = await cli('grant', 'probe', 'serial:nmea1');
  t.regex(granted.stdout, /granted serial:nmea1 to probe/);
  t.regex(granted.stdout, /in effect for probe: dataRead, dataWrite, serial:nmea1\n/);
  const listed = await cli('grants');
  t.regex(listed.stdout, /probe\n {2}requests: {2}dataRead, dataWrite, serialPorts, serial:\*:write/);
  t.regex(
    listed.stdout,
    /granted: {3}dataRead \(default, all plugins\), dataWrite \(default, all plugins\), putHandlers \(default, all plugins\), serial:nmea1 \(grants file\)/,
  );
  t.regex(listed.stdout, /in effect: dataRead, dataWrite, serial:nmea1/);

  const bad = await t.throwsAsync(cli('grant', 'probe', 'usb'));
  t.regex((bad as { stderr?: string }).stderr ?? '', /unknown capability "usb"/);
  const unknown = await cli('grant', 'nobody', 'rawSockets');
  t.regex(unknown.stdout, /warning: no installed plugin has the id nobody/);

  t.regex((await cli('revoke', 'probe', 'serial:nmea1')).stdout, /revoked serial:nmea1 from probe/);
  t.regex((await cli('revoke', 'probe', 'serial:nmea1')).stdout, /did not have serial:nmea1/);
  const fromSettings = await t.throwsAsync(cli('revoke', '*', 'dataRead'));
  t.regex((fromSettings as { stderr?: string }).stderr ?? '', /a default grant for every plugin/);
  t.deepEqual(readGrantsFile(data), { nobody: ['rawSockets'] });
});
