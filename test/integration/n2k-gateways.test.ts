// NMEA 2000 gateways as sources, on real transports: an Actisense NGT-1 speaking its binary
// protocol over a pseudo-terminal, and a Yacht Devices gateway sending RAW lines over UDP and
// taking them over TCP on 127.0.0.1. What they carry reaches the model and a plugin granted the
// gateway's interface (the hal-can-reader fixture, the same as for SocketCAN); bad input (stray
// bytes, bad checksums, cut frames, malformed lines) is counted by reason and costs nothing else;
// a granted plugin's frame goes out in the gateway's own format. The gateways are named can0 here:
// the reader fixture asks for can0, as a plugin written for a CAN hat would, and runs unchanged.

import test, { type ExecutionContext } from 'ava';
import { toPgn } from '@canboat/canboatjs';
import { createSocket } from 'node:dgram';
import { open, type FileHandle } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { encodeActisense, encodeActisenseReceived } from '../../hal/can/gateway/actisense-binary.js';
import { encodeActisenseAscii, encodeYdwgRaw } from '../../hal/can/gateway/line-formats.js';
import { toFrames, type N2kMessage } from '../../hal/can/gateway/message.js';
import type { Runtime } from '../../runtime/app.js';
import { FIXTURES, configurePlugin, http, pluginFolder, selfValue } from '../helpers/plugins.js';
import { startPtyPair } from '../helpers/pty.js';
import { startTestRuntime, type RuntimeOptions, type TestRuntime } from '../helpers/runtime.js';
import type { SourceSettings } from '../../hal/sources/table.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const CAN_READER = '_signalk-edge-fixture_hal-can-reader';
const DATA_GRANTS = ['dataRead', 'dataWrite'];
const HEADING = 127250;
const GNSS = 129029;
const DEG = Math.PI / 180;
/** The ISO request (59904) the reader plugin sends: one frame, priority 6, from 0 to all. */
const REQUEST = { pgn: 59904, data: [0x14, 0xf0, 0x01] };

function n2k(pgn: number, fields: Record<string, unknown>, src = 35): N2kMessage {
  const data = toPgn({ pgn, fields });
  if (!data) throw new Error(`canboatjs could not encode PGN ${pgn}`);
  return { prio: 3, pgn, src, dst: 255, data };
}

/** A heading and a GNSS fix (43 bytes, 7 fast-packet frames on the bus) per round. */
function traffic(rounds: number): N2kMessage[] {
  const out: N2kMessage[] = [];
  for (let i = 0; i < rounds; i++) {
    out.push(n2k(HEADING, { sid: i, heading: (10 + i) * DEG, reference: 'True' }));
    out.push(
      n2k(GNSS, {
        sid: i,
        date: '2024.06.15',
        time: '10:15:00',
        latitude: 59.5 + i / 100,
        longitude: 24.25,
        gnssType: 'GPS',
        method: 'GNSS fix',
        integrity: 'No integrity checking',
        numberOfSvs: 9,
        hdop: 0.9,
        referenceStations: 0,
      }),
    );
  }
  return out;
}

/** The traffic of `rounds` as a Yacht Devices gateway reports it: one RAW line (CR LF) per frame. */
function ydRawLines(rounds: number): string[] {
  return traffic(rounds)
    .flatMap((m) => toFrames(m, 0))
    .map((f) => `10:15:00.000 R ${encodeYdwgRaw(f)}`);
}

function position(rt: Runtime): unknown {
  return rt.model.valueAt('vessels.self', 'navigation.position')?.value;
}

/** The heading and position of the last round, as the model must hold them. */
async function lastRoundArrived(rt: Runtime, rounds: number): Promise<void> {
  const lat = 59.5 + (rounds - 1) / 100;
  await waitFor(() => {
    const p = position(rt) as { latitude?: number } | undefined;
    return p !== undefined && Math.abs((p.latitude ?? 0) - lat) < 1e-6;
  }, 'the last position in the model');
  const heading = Number(rt.model.valueAt('vessels.self', 'navigation.headingTrue')?.value);
  if (Math.abs(heading - (10 + rounds - 1) * DEG) > 1e-3) throw new Error(`heading ${heading}`);
}

async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** A runtime with a serial gateway source `id` of `type` driving can0 from one end of a pty pair; `far` is the gateway's end, open. */
async function gatewayOnPty(
  t: ExecutionContext,
  gateway: { id: string; type: 'actisense' | 'ikonvert' | 'ydwg-raw'; baudRate: number },
  options: RuntimeOptions = {},
): Promise<{ rt: TestRuntime; far: FileHandle }> {
  const dir = tempDir(t, 'ske-gateway-pty-');
  const [a, b] = [join(dir, 'a'), join(dir, 'b')];
  const pty = await startPtyPair(a, b);
  const far = await open(b, 'r+');
  const { id, type, baudRate } = gateway;
  const source: SourceSettings = { id, type, interface: 'can0', transport: { kind: 'serial', device: a, baudRate } };
  const rt = await startTestRuntime({ ...options, sources: [source] });
  t.teardown(async () => {
    await far.close();
    await rt.stop();
    await pty.stop();
  });
  await waitFor(() => rt.runtime.sources[0].status().state === 'open', 'the gateway port to open');
  return { rt, far };
}

/** Reconfigures the reader plugin (it starts again) to send REQUEST on can0; waits until the send is accepted. */
async function pluginSendsRequest(t: ExecutionContext, runtime: Runtime): Promise<void> {
  const body = { enabled: true, configuration: { interface: 'can0', send: [REQUEST] } };
  t.is((await http(runtime, 'POST', `/plugins/${CAN_READER}/config`, body)).status, 200);
  await waitFor(() => selfValue(runtime, 'test.can.send.0') === 0, "the plugin's send accepted");
}

/** Reads `end` until `expected` has come by (a gateway's transmit side). */
async function readUntil(end: FileHandle, expected: Buffer): Promise<void> {
  let seen = Buffer.alloc(0);
  const buf = Buffer.alloc(512);
  await waitFor(
    async () => {
      const { bytesRead } = await end.read(buf, 0, buf.length, null);
      seen = Buffer.concat([seen, buf.subarray(0, bytesRead)]);
      return seen.includes(expected);
    },
    `the bytes ${expected.toString('hex')} on the device`,
  );
}

test('an NGT-1 on a pty: its binary frames reach the model and a granted plugin; bad frames are counted; a plugin sends through it', async (t) => {
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-can-reader' }]);
  const dataDir = tempDir(t, 'ske-ngt1-');
  configurePlugin(dataDir, CAN_READER, { interface: 'can0' });
  const { rt, far } = await gatewayOnPty(
    t,
    { id: 'ngt', type: 'actisense', baudRate: 115200 },
    {
      dataDir,
      pluginDirs: [plugins],
      grants: { '*': DATA_GRANTS, [CAN_READER]: [`can:can0:${HEADING},${GNSS}`, 'can:can0:write'] },
    },
  );
  const source = rt.runtime.sources[0];

  const rounds = 5;
  const messages = traffic(rounds).map((m) => encodeActisenseReceived(m));
  const badChecksum = Buffer.from(messages[0]);
  badChecksum[badChecksum.length - 3] ^= 0x01; // the checksum byte (none of these is a stuffed DLE)
  const cut = messages[1].subarray(0, 12); // a frame cut off by the next frame's DLE STX
  // Stray bytes, then the frames with a bad one and a cut one among them: only those two are lost.
  await far.write(
    Buffer.concat([Buffer.from('line noise'), messages[0], badChecksum, messages[1], cut, ...messages.slice(2)]),
  );
  await lastRoundArrived(rt.runtime, rounds);

  await waitFor(
    () => selfValue(rt.runtime, `test.can.pgn${GNSS}.count`) === rounds * 7,
    `all ${rounds * 7} GNSS frames at the plugin`,
  );
  t.is(selfValue(rt.runtime, `test.can.pgn${HEADING}.count`), rounds);
  t.deepEqual(source.status().errors, { garbage: 1, checksum: 1, truncated: 1 });
  t.like(source.status(), { lines: rounds * 8, deltas: rounds * 2 });
  t.is(rt.runtime.model.valueAt('vessels.self', 'navigation.headingTrue')?.$source, 'ngt.35');

  // Reconfigured (so it starts again, now that the port is open), the plugin sends a request: it
  // goes out as an NGT-1 send command (the gateway transmits from its own claimed address).
  await pluginSendsRequest(t, rt.runtime);
  await readUntil(
    far,
    encodeActisense({ prio: 6, pgn: REQUEST.pgn, src: 0, dst: 255, data: Buffer.from(REQUEST.data) }),
  );
});

test('a Yacht Devices gateway over UDP: RAW lines reach the model and a granted plugin; malformed lines are counted', async (t) => {
  const port = await freeUdpPort();
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-can-reader' }]);
  const dataDir = tempDir(t, 'ske-ydwg-');
  configurePlugin(dataDir, CAN_READER, { interface: 'can0', pgns: [GNSS] });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    sources: [
      { id: 'yd', type: 'ydwg-raw', interface: 'can0', transport: { kind: 'udp', port, address: '127.0.0.1' } },
    ],
    grants: { '*': DATA_GRANTS, [CAN_READER]: [`can:can0:${GNSS}`] },
  });
  t.teardown(() => rt.stop());
  const source = rt.runtime.sources[0];
  await waitFor(() => source.status().state === 'open', 'the UDP socket to listen');

  const rounds = 4;
  const lines = ydRawLines(rounds);
  const bad = [
    'not a gateway line',
    '10:15:00.000 R 0DF8050Z 01 02',
    `10:15:00.000 R 09F10D23 ${'00 '.repeat(9).trim()}`,
  ];
  const sender = createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => sender.close(() => resolve())));
  // The gateway sends several lines per datagram; the bad ones come in datagrams of their own kind.
  const datagrams = [
    bad.join('\r\n'),
    ...Array.from({ length: Math.ceil(lines.length / 4) }, (_, i) => lines.slice(i * 4, i * 4 + 4).join('')),
  ];
  for (const d of datagrams)
    await new Promise<void>((resolve, reject) =>
      sender.send(d, port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );

  await lastRoundArrived(rt.runtime, rounds);
  await waitFor(
    () => selfValue(rt.runtime, `test.can.pgn${GNSS}.count`) === rounds * 7,
    'every GNSS frame at the plugin',
  );
  t.is(selfValue(rt.runtime, `test.can.pgn${HEADING}.count`), undefined, "heading is outside the plugin's filter");
  t.deepEqual(source.status().errors, { garbage: 3 });
  t.like(source.status(), { lines: rounds * 8, deltas: rounds * 2 });
  // UDP is receive-only here: a frame to send is refused with that reason.
  const lease = rt.runtime.devices.can.acquire('can0');
  t.teardown(() => lease.release());
  await t.throwsAsync(lease.send(toFrames(traffic(1)[0], 0)[0]), {
    message: /cannot send frames \(receive-only transport\)/,
  });
});

/** A gateway's TCP server on 127.0.0.1: the source connects to `port`; what it sends is collected in `received`. */
async function tcpGateway(
  t: ExecutionContext,
): Promise<{ port: number; received: string[]; connected(): Promise<Socket> }> {
  let gateway: Socket | undefined;
  const received: string[] = [];
  const server = createServer((socket) => {
    gateway = socket;
    socket.setEncoding('latin1');
    socket.on('data', (text: string) => received.push(text));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(async () => {
    gateway?.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  return { port, received, connected: () => waitFor(() => gateway, 'the source to connect') };
}

test("a Yacht Devices gateway over TCP: frames in, and a granted plugin's frame out as a RAW line", async (t) => {
  const gateway = await tcpGateway(t);
  const plugins = await pluginFolder([{ from: FIXTURES, name: 'hal-can-reader' }]);
  const dataDir = tempDir(t, 'ske-ydwg-tcp-');
  configurePlugin(dataDir, CAN_READER, { interface: 'can0' });
  const rt = await startTestRuntime({
    dataDir,
    pluginDirs: [plugins],
    sources: [
      {
        id: 'ydt',
        type: 'ydwg-raw',
        interface: 'can0',
        transport: { kind: 'tcp', host: '127.0.0.1', port: gateway.port },
      },
    ],
    grants: { '*': DATA_GRANTS, [CAN_READER]: ['can:can0', 'can:can0:write'] },
  });
  t.teardown(() => rt.stop());
  (await gateway.connected()).write(ydRawLines(2).join(''));
  await lastRoundArrived(rt.runtime, 2);

  // Reconfigured now that the connection is up, the plugin sends a request: a RAW transmit line.
  await pluginSendsRequest(t, rt.runtime);
  await waitFor(() => gateway.received.join('').includes('\r\n'), 'a line at the gateway');
  t.is(gateway.received.join(''), '18EAFF00 14 F0 01\r\n');
});

test('a W2K-1 over TCP: N2K ASCII lines in, a fast-packet message sent frame by frame goes out as one N2K ASCII line', async (t) => {
  const gateway = await tcpGateway(t);
  const rt = await startTestRuntime({
    sources: [
      {
        id: 'w2k',
        type: 'actisense-ascii',
        interface: 'can0',
        transport: { kind: 'tcp', host: '127.0.0.1', port: gateway.port },
      },
    ],
  });
  t.teardown(() => rt.stop());
  const rounds = 3;
  (await gateway.connected()).write(
    traffic(rounds)
      .map((m) => encodeActisenseAscii(m))
      .join('') + 'A000000.000 23FF2 1F112 0188\r\n',
  );
  await lastRoundArrived(rt.runtime, rounds);
  t.deepEqual(rt.runtime.sources[0].status().errors, {}, 'a short message is still a message');

  const lease = rt.runtime.devices.can.acquire('can0');
  t.teardown(() => lease.release());
  const fix = traffic(1)[1];
  for (const frame of toFrames(fix, 0)) await lease.send(frame);
  await waitFor(() => gateway.received.join('').endsWith('\r\n'), 'a line at the gateway');
  t.is(gateway.received.join(''), encodeActisenseAscii(fix));
});

test('an iKonvert on a pty: put on the bus at open, its !PDGY lines reach the model, a sent frame goes out as !PDGY', async (t) => {
  const { rt, far } = await gatewayOnPty(t, { id: 'ik', type: 'ikonvert', baudRate: 230400 });
  const source = rt.runtime.sources[0];
  await readUntil(far, Buffer.from('$PDGY,N2NET_INIT,ALL\r\n'));

  const rounds = 3;
  const lines = traffic(rounds).map(
    (m) => `!PDGY,${m.pgn},${m.prio},${m.src},${m.dst},0.000,${m.data.toString('base64')}\r\n`,
  );
  await far.write(`$PDGY,000000,4,,5,482.236,,,\r\n${lines.join('')}!PDGY,garbled\r\n`);
  await lastRoundArrived(rt.runtime, rounds);
  t.deepEqual(source.status().errors, { garbage: 1 });

  // A fast-packet message sent frame by frame goes out whole, as one !PDGY line.
  const lease = rt.runtime.devices.can.acquire('can0');
  t.teardown(() => lease.release());
  const fix = traffic(1)[1];
  for (const frame of toFrames(fix, 0)) await lease.send(frame);
  await readUntil(far, Buffer.from(`!PDGY,${GNSS},255,${fix.data.toString('base64')}\r\n`));
});

test('a Yacht Devices gateway on USB serial (a pty): RAW lines in, a frame out as a RAW line', async (t) => {
  const { rt, far } = await gatewayOnPty(t, { id: 'ydu', type: 'ydwg-raw', baudRate: 115200 });
  const rounds = 2;
  await far.write(ydRawLines(rounds).join(''));
  await lastRoundArrived(rt.runtime, rounds);
  t.deepEqual(rt.runtime.sources[0].status().errors, {});

  const lease = rt.runtime.devices.can.acquire('can0');
  t.teardown(() => lease.release());
  await lease.send({ id: 0x18eaff00, data: Uint8Array.from(REQUEST.data) });
  await readUntil(far, Buffer.from('18EAFF00 14 F0 01\r\n'));
});
