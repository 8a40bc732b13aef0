// doctor --capture over a made-up machine: the files detection reads are copied byte for byte, CAN
// interfaces are told from other network interfaces by their sysfs type, serial devices are listed
// with their stable links, and the captured folder detects as the board it came from.

import test from 'ava';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { detectBoard } from '../../runtime/board/detect.js';
import { loadAllProfiles } from '../../runtime/board/profile.js';
import { captureBoard } from '../../runtime/cli/capture.js';
import { tempDir } from '../helpers/temp.js';

const CERBO = join(PROJECT_ROOT, 'test', 'fixtures', 'boards', 'cerbo-gx');

test('a Cerbo GX-shaped machine is captured into a folder that detects as cerbo-gx', (t) => {
  const root = tempDir(t, 'ske-capture-');
  const proc = join(root, 'proc');
  const net = join(root, 'net');
  const dev = join(root, 'dev');
  mkdirSync(join(proc, 'device-tree'), { recursive: true });
  writeFileSync(join(proc, 'device-tree', 'model'), readFileSync(join(CERBO, 'model')));
  writeFileSync(join(proc, 'cpuinfo'), readFileSync(join(CERBO, 'cpuinfo')));
  for (const [iface, type, state] of [
    ['vecan0', '280', 'up'],
    ['can0', '280', 'down'],
    ['eth0', '1', 'up'],
  ]) {
    mkdirSync(join(net, iface!), { recursive: true });
    writeFileSync(join(net, iface!, 'type'), `${type}\n`);
    writeFileSync(join(net, iface!, 'operstate'), `${state}\n`);
  }
  mkdirSync(join(dev, 'serial', 'by-id'), { recursive: true });
  for (const name of ['ttyUSB0', 'ttyS0', 'tty1', 'null']) writeFileSync(join(dev, name), '');
  symlinkSync('../../ttyUSB0', join(dev, 'serial', 'by-id', 'usb-Actisense_NGT-1-if00-port0'));

  const out = join(root, 'captured');
  const result = captureBoard(out, { proc, net, dev });
  t.deepEqual(result.files, ['model', 'cpuinfo', 'can', 'serial']);
  t.is(result.board, 'cerbo-gx');
  t.deepEqual(readFileSync(join(out, 'model')), readFileSync(join(CERBO, 'model')), 'NUL terminator kept');
  t.is(readFileSync(join(out, 'can'), 'utf8'), 'can0 down\nvecan0 up\n');
  t.is(
    readFileSync(join(out, 'serial'), 'utf8'),
    `${join(dev, 'ttyS0')}\n${join(dev, 'ttyUSB0')}\n${join(dev, 'serial', 'by-id', 'usb-Actisense_NGT-1-if00-port0')} -> ../../ttyUSB0\n`,
  );
  const facts = {
    model: readFileSync(join(out, 'model'), 'utf8'),
    cpuinfo: readFileSync(join(out, 'cpuinfo'), 'utf8'),
  };
  t.is(detectBoard(facts, loadAllProfiles()).board, 'cerbo-gx');
});

test('a machine without a device tree (x86) captures cpuinfo alone', (t) => {
  const root = tempDir(t, 'ske-capture-');
  mkdirSync(join(root, 'proc'));
  writeFileSync(join(root, 'proc', 'cpuinfo'), 'processor\t: 0\nmodel name\t: Intel(R) Xeon(R)\n');
  const result = captureBoard(join(root, 'out'), {
    proc: join(root, 'proc'),
    net: join(root, 'none'),
    dev: join(root, 'none'),
  });
  t.deepEqual(result.files, ['cpuinfo', 'can', 'serial']);
  t.is(result.board, 'generic');
  t.is(readFileSync(join(root, 'out', 'can'), 'utf8'), '');
});
