import test from 'ava';
import { createSocket } from 'node:dgram';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { parseSettings } from '../../runtime/config/settings.js';
import type { SourceSettings } from '../../hal/sources/table.js';
import { SettingsError } from '../../core/settings-reader.js';
import { startTestRuntime, type TestRuntime } from '../helpers/runtime.js';
import { waitFor } from '../helpers/wait.js';

const RMC = '$GPRMC,101500.00,A,5046.1995,N,00118.0026,W,6.1,252.5,150624,1.2,W*52';
const DBT = '$IIDBT,39.4,f,12.0,M,6.6,F*1C';
const MWV = '$IIMWV,35.0,R,15.5,N,A*3A';
const BAD_CHECKSUM = '$IIMWV,35.0,R,15.5,N,A*3B';

const LATITUDE = 50 + 46.1995 / 60;

/** A UDP port free a moment ago (bound, read, closed). */
async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
  const { port } = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** An NMEA server: a TCP server recording the connections it accepts. */
async function nmeaServer(
  t: { teardown(fn: () => Promise<void>): void },
  port = 0,
): Promise<{ server: Server; port: number; connections: Socket[] }> {
  const connections: Socket[] = [];
  const server = createServer((socket) => connections.push(socket));
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', () => resolve()));
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        for (const c of connections) c.destroy();
        server.close(() => resolve());
      }),
  );
  return { server, port: (server.address() as AddressInfo).port, connections };
}

async function runtimeWith(
  t: { teardown(fn: () => Promise<void>): void },
  sources: SourceSettings[],
): Promise<TestRuntime> {
  const rt = await startTestRuntime({ sources });
  t.teardown(() => rt.stop());
  return rt;
}

function value(rt: TestRuntime, path: string): unknown {
  return rt.runtime.model.valueAt('vessels.self', path)?.value;
}

test('udp source: datagrams of NMEA lines become model values; malformed lines are counted', async (t) => {
  const port = await freeUdpPort();
  const rt = await runtimeWith(t, [{ id: 'udp1', type: 'udp', port, address: '127.0.0.1' }]);
  const source = rt.runtime.sources[0];
  await waitFor(() => source.status().state === 'open', 'the UDP socket to be bound');

  const sender = createSocket('udp4');
  t.teardown(() => new Promise<void>((resolve) => sender.close(() => resolve())));
  const send = (text: string): Promise<void> =>
    new Promise((resolve, reject) =>
      sender.send(Buffer.from(text, 'latin1'), port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
    );
  // Two sentences in one datagram, the last without CR/LF: the datagram ends it.
  await send(`${RMC}\r\n${DBT}`);
  await send(`${BAD_CHECKSUM}\r\nhello world\r\n`);
  await send(`${MWV}\r\n`);
  await waitFor(() => source.status().lines === 5, 'five lines');

  t.like(value(rt, 'navigation.position'), { latitude: LATITUDE });
  t.is(value(rt, 'environment.depth.belowTransducer'), 12.0);
  t.is(rt.runtime.model.valueAt('vessels.self', 'environment.wind.angleApparent')?.$source, 'udp1.II');
  t.like(source.status(), {
    id: 'udp1',
    type: 'udp',
    state: 'open',
    lines: 5,
    deltas: 3,
    errors: { checksum: 1, garbage: 1 },
  });
  t.regex(source.status().lastError ?? '', /^garbage: /);
});

test('tcp source: lines from a server become model values; it reconnects after the server drops it; malformed and cut lines are counted', async (t) => {
  const nmea = await nmeaServer(t);
  const rt = await runtimeWith(t, [{ id: 'tcp1', type: 'tcp', host: '127.0.0.1', port: nmea.port }]);
  const source = rt.runtime.sources[0];
  await waitFor(() => nmea.connections.length === 1 && source.status().state === 'open', 'the first connection');

  // The drop cuts the last sentence: it is flushed as it is and counted, not glued to new data.
  nmea.connections[0].write(`${RMC}\r\n${BAD_CHECKSUM}\r\n$IIDBT,39.4,f,12.0`);
  await waitFor(() => source.status().lines === 2, 'two whole lines');
  nmea.connections[0].destroy();

  await waitFor(() => nmea.connections.length === 2 && source.status().state === 'open', 'the source to reconnect');
  nmea.connections[1].write(`${MWV}\r\n${DBT}\r\n`);
  await waitFor(() => value(rt, 'environment.depth.belowTransducer') === 12.0, 'the depth from the second connection');

  t.like(value(rt, 'navigation.position'), { latitude: LATITUDE });
  t.is(rt.runtime.model.valueAt('vessels.self', 'environment.wind.angleApparent')?.$source, 'tcp1.II');
  t.like(source.status(), {
    id: 'tcp1',
    type: 'tcp',
    state: 'open',
    lines: 5,
    deltas: 3,
    errors: { checksum: 1, truncated: 1 },
  });
});

test('tcp source: a server absent at start is retried with backoff until it listens', async (t) => {
  const gone = await nmeaServer(t);
  const port = gone.port;
  await new Promise<void>((resolve) => gone.server.close(() => resolve()));
  const rt = await runtimeWith(t, [{ id: 'tcp2', type: 'tcp', host: '127.0.0.1', port }]);
  const source = rt.runtime.sources[0];
  await waitFor(() => source.status().state === 'reconnecting', 'a failed attempt');
  t.regex(source.status().lastError ?? '', /^connect ECONNREFUSED 127\.0\.0\.1:\d+; retry in \d+ ms$/);

  const nmea = await nmeaServer(t, port);
  await waitFor(
    () => nmea.connections.length === 1 && source.status().state === 'open',
    'the connection once the server listens',
  );
  t.is(source.status().lastError, undefined);
  nmea.connections[0].write(`${DBT}\r\n`);
  await waitFor(() => value(rt, 'environment.depth.belowTransducer') === 12.0, 'the depth');
  t.like(source.status(), { lines: 1, deltas: 1, errors: {} });
});

test('udp and tcp source settings: defaults, errors naming the key', (t) => {
  const s = parseSettings(
    {
      sources: [
        { id: 'u', type: 'udp', port: 10110 },
        { id: 'u6', type: 'udp', port: 2000, address: '::1' },
        { id: 't', type: 'tcp', host: 'plotter.local', port: 10110 },
      ],
    },
    '/etc/s.json',
  );
  t.deepEqual(s.sources, [
    { id: 'u', type: 'udp', port: 10110 },
    { id: 'u6', type: 'udp', port: 2000, address: '::1' },
    { id: 't', type: 'tcp', host: 'plotter.local', port: 10110 },
  ]);
  const fails = (source: unknown, message: string): void => {
    t.throws(() => parseSettings({ sources: [source] }, '/etc/s.json'), {
      instanceOf: SettingsError,
      message: `/etc/s.json: ${message}`,
    });
  };
  fails({ id: 'u', type: 'udp' }, 'sources[0].port: must be an integer from 1 to 65535, got undefined');
  fails(
    { id: 'u', type: 'udp', port: 10110, address: 'boat.local' },
    'sources[0].address: must be an IP address to listen on (0.0.0.0, ::, 192.168.1.10), got "boat.local"',
  );
  fails({ id: 't', type: 'tcp', port: 10110 }, 'sources[0].host: must be a non-empty string, got undefined');
  fails(
    { id: 't', type: 'tcp', host: 'x', port: 70000 },
    'sources[0].port: must be an integer from 1 to 65535, got 70000',
  );
  fails(
    { id: 't', type: 'tcp', host: 'x', port: 1, address: '1.2.3.4' },
    'sources[0].address: unknown key (allowed: id, type, host, port)',
  );
});
