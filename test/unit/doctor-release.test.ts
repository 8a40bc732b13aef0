import test from 'ava';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { checkRelease } from '../../runtime/cli/doctor-release.js';
import { loadProfile } from '../../runtime/board/profile.js';
import { parseElfHeader } from '../../runtime/release/elf.js';
import { targetOfProcess, TARGETS } from '../../runtime/release/targets.js';
import { tempDir } from '../helpers/temp.js';

/** A package with an addon at build/Release/<file>, copied from `from` or an AArch64 header alone. */
function addonPackage(root: string, name: string, file: string, from?: string): void {
  const dir = join(root, 'node_modules', name);
  mkdirSync(join(dir, 'build', 'Release'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, version: '1.0.0' }));
  writeFileSync(join(dir, 'binding.gyp'), '{}');
  const dest = join(dir, 'build', 'Release', file);
  if (from) copyFileSync(from, dest);
  else {
    const head = Buffer.alloc(64);
    head.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]);
    head.writeUInt16LE(3, 16);
    head.writeUInt16LE(183, 18);
    writeFileSync(dest, head);
  }
}

test('doctor: an addon that does not load is a failure naming the feature it disables; one that loads is ok', (t) => {
  const root = tempDir(t, 'ske-doctor-release-');
  addonPackage(root, 'socketcan', 'can.node'); // an ARM file on this machine
  addonPackage(
    root,
    '@canboat/canboatjs',
    'canSocket.node',
    join(PROJECT_ROOT, 'node_modules', '@canboat', 'canboatjs', 'build', 'Release', 'canSocket.node'),
  );
  addonPackage(root, 'bufferutil', 'bufferutil.node');
  const checks = checkRelease(root, loadProfile('generic'));
  t.log(checks.map((c) => `${c.status} ${c.message}`).join('\n'));
  const can = checks.find((c) => c.message.includes('node_modules/socketcan/build/Release/can.node'));
  t.is(can?.status, 'fail');
  t.regex(can!.message, /^CAN \(NMEA 2000 over SocketCAN: socketcan\) disabled: .* does not load here: /);
  t.is(checks.find((c) => c.message.includes('canSocket.node'))?.status, 'ok');
  t.is(checks.find((c) => c.message.includes('bufferutil'))?.status, 'warn', 'ws falls back to JavaScript');
});

test('doctor: a release for another target is a failure; what release.sh left out is a warning', (t) => {
  const root = tempDir(t, 'ske-doctor-release-');
  const here = targetOfProcess();
  t.truthy(here);
  const other = here!.id === 'linux-arm64' ? 'linux-x64' : 'linux-arm64';
  const manifest = {
    name: 'signalk-edge',
    version: '0.1.0',
    target: other,
    node: { abi: Number(process.versions.modules), version: process.versions.node },
    addons: [],
    omitted: [
      { package: 'socketcan', feature: 'CAN (NMEA 2000 over SocketCAN: socketcan)', reason: 'cross-build failed' },
    ],
  };
  writeFileSync(join(root, 'release.json'), JSON.stringify(manifest));
  const checks = checkRelease(root, loadProfile('generic'));
  t.is(checks[0]?.status, 'fail');
  t.regex(
    checks[0]!.message,
    new RegExp(`0\\.1\\.0 for ${other} does not fit: this tarball is for ${other}, the machine is ${here!.id}`),
  );
  t.is(checks[1]?.status, 'warn');
  t.regex(checks[1]!.message, /left out of this release: CAN .*cross-build failed/);
  writeFileSync(join(root, 'release.json'), JSON.stringify({ ...manifest, target: here!.id, omitted: [] }));
  t.is(checkRelease(root, loadProfile('generic'))[0]?.status, 'ok');
});

test('ELF header: machine and class of the targets, nothing for a non-ELF file', (t) => {
  for (const target of Object.values(TARGETS)) {
    const head = new Uint8Array(20);
    head.set([0x7f, 0x45, 0x4c, 0x46, target.elfBits === 64 ? 2 : 1, 1]);
    new DataView(head.buffer).setUint16(18, target.elfMachine, true);
    t.deepEqual(parseElfHeader(head), {
      bits: target.elfBits,
      machine: target.elfMachine,
      machineName: { 'linux-arm64': 'AArch64', 'linux-armv7': 'ARM', 'linux-x64': 'x86-64' }[target.id],
    });
  }
  t.is(parseElfHeader(new TextEncoder().encode('#!/bin/sh\necho not an addon\n')), undefined);
});
