// Target 4: client messages on /signalk/v1/stream of a real API server (test/helpers/runtime.ts
// startBareApi) from a real `ws` client: subscribe/unsubscribe messages mutated structurally
// (wrong types, periods at the edges of timers, policies, star-heavy path and context patterns,
// huge row lists), garbage text, invalid UTF-8, binary frames and oversized messages. A delta is
// published after each message, so the fuzzed rows match real traffic.
// Properties: the server answers every message or ignores it, never crashes and never logs an
// error; after each message it still answers the next one (a sentinel); a second client
// subscribed to everything keeps receiving deltas.

import WebSocket from 'ws';
import { STREAM_PATH } from '../../../runtime/api/stream.js';
import { startBareApi, type BareApi } from '../../helpers/runtime.js';
import { waitFor } from '../../helpers/wait.js';
import { Finding, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { capText, concat, mutateJson, toJsonText, utf8 } from '../mutate.js';
import { hashString, type Rng } from '../rng.js';

const BASE_MESSAGES: unknown[] = [
  {
    context: 'vessels.self',
    subscribe: [{ path: 'navigation.speedOverGround', period: 1000, format: 'delta', policy: 'ideal', minPeriod: 200 }],
  },
  { context: '*', subscribe: [{ path: '*' }] },
  { context: 'vessels.*', subscribe: [{ path: 'environment.wind.*', policy: 'instant', minPeriod: 100 }] },
  { context: 'vessels.self', unsubscribe: [{ path: 'navigation.speedOverGround' }] },
  { context: '*', unsubscribe: [{ path: '*' }] },
  { subscribe: [{ path: 'navigation.position', period: 500, policy: 'fixed' }] },
  { context: 'vessels.self', subscribe: [{ path: 'environment.*' }], unsubscribe: [{ path: '*' }] },
  {
    context: 'self',
    subscribe: [
      { path: 'navigation.*', minPeriod: 50 },
      { path: 'notifications.*', policy: 'instant' },
    ],
  },
  {},
];

const WORDS = [
  'context',
  'subscribe',
  'unsubscribe',
  'path',
  'period',
  'minPeriod',
  'policy',
  'format',
  'instant',
  'ideal',
  'fixed',
  'delta',
  'full',
  'vessels.self',
  'vessels.*',
  'self',
  '*',
  'navigation',
  'environment.wind',
  'aaaaaaaa',
];

/** Paths the published deltas use: ordinary ones and long runs a backtracking matcher chokes on. */
const TRAFFIC_PATHS = [
  'navigation.speedOverGround',
  'environment.wind.speedApparent',
  'navigation.position',
  'notifications.mob',
  `a.${'a'.repeat(60)}`,
  `${'e.'.repeat(40)}end`,
];
const TRAFFIC_CONTEXTS = ['vessels.self', 'vessels.urn:mrn:imo:mmsi:244000002', `vessels.urn:mrn:${'aaaa'.repeat(15)}`];

const FRAME_TEXT = 0;
const FRAME_BINARY = 1;
/** Above the server's 64 KiB message bound. */
const OVERSIZE = 70 * 1024;
const ANSWER_MS = 5000;

function generate(rng: Rng): Uint8Array {
  const roll = rng.int(100);
  if (roll < 5) return concat(Uint8Array.of(rng.int(2)), rng.bytes(rng.logScale(300)));
  if (roll < 7)
    return concat(
      Uint8Array.of(FRAME_TEXT),
      utf8(JSON.stringify({ context: '*', subscribe: [{ path: 'x'.repeat(OVERSIZE) }] })),
    );
  if (roll < 9) {
    const rows = Array.from({ length: rng.pick([999, 1000, 1001]) }, (_, i) => ({
      path: `p${i}.*`,
      period: rng.pick([10, 1000, 50]),
      policy: rng.pick(['fixed', 'ideal', 'instant']),
    }));
    return concat(Uint8Array.of(FRAME_TEXT), utf8(JSON.stringify({ context: '*', subscribe: rows })));
  }
  let msg = rng.pick(BASE_MESSAGES);
  const rounds = rng.range(1, 3);
  for (let i = 0; i < rounds; i++) msg = mutateJson(rng, msg, WORDS);
  return concat(Uint8Array.of(rng.chance(0.95) ? FRAME_TEXT : FRAME_BINARY), utf8(capText(toJsonText(msg), OVERSIZE)));
}

/** A stream client that keeps what it receives (also used by test/unit/fuzz-regressions.test.ts). */
export class StreamClient {
  readonly received: string[] = [];
  closeCode: number | undefined;
  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.received.push(String(data)));
    ws.on('close', (code) => {
      this.closeCode = code;
    });
    // A refused connection or a reset shows as the close code; the error itself carries nothing more.
    ws.on('error', () => undefined);
  }

  static async open(url: string): Promise<StreamClient> {
    const client = new StreamClient(new WebSocket(url));
    await new Promise<void>((resolve, reject) => {
      client.ws.once('open', () => resolve());
      client.ws.once('close', (code) =>
        reject(new Finding('property', `the server refused a stream connection (close ${code})`)),
      );
    });
    return client;
  }

  get open(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  close(): void {
    this.ws.terminate();
  }
}

export const target: TargetModule = {
  name: 'websocket',
  covers:
    'ws client frames → real API server /signalk/v1/stream (subscribe, unsubscribe, garbage) with live deltas; a second client must keep being served',
  async create(): Promise<FuzzTarget> {
    const api: BareApi = await startBareApi();
    const base = `${api.wsUrl}${STREAM_PATH}`;
    let client = await StreamClient.open(`${base}?subscribe=none`);
    // Connected after the fuzzed client (the server delivers in connection order), and again after each reconnect.
    let victim = await StreamClient.open(`${base}?subscribe=all`);
    let inputs = 0;
    let markers = 0;

    const publish = (n: number): void => {
      const path = TRAFFIC_PATHS[n % TRAFFIC_PATHS.length]!;
      const context = TRAFFIC_CONTEXTS[n % TRAFFIC_CONTEXTS.length]!;
      api.bus.publish(
        {
          context,
          updates: [
            {
              source: { label: 'fuzz' },
              values: [{ path, value: n }],
              meta: n % 7 === 0 ? [{ path, value: { units: 'm/s' } }] : undefined,
            },
          ],
        },
        'fuzz',
      );
    };

    /**
     * Sends a sentinel (not JSON: answered with an error naming it) and waits for that answer.
     * Returns where it is in `received`, or undefined when the server closed the connection.
     */
    const sentinelAnswer = async (c: StreamClient, n: number): Promise<number | undefined> => {
      const sentinel = `#s${n}#`;
      const start = c.received.length;
      c.ws.send(sentinel);
      const at = (): number => c.received.findIndex((m, i) => i >= start && m.includes(sentinel));
      const ok = await waitFor(
        () => at() >= 0 || c.closeCode !== undefined,
        `the answer to ${sentinel}`,
        ANSWER_MS,
        1,
      ).catch(() => false);
      if (!ok) throw new Finding('property', `the server did not answer the next message within ${ANSWER_MS} ms`);
      const i = at();
      return i >= 0 ? i : undefined;
    };

    const checkVictim = async (): Promise<void> => {
      const marker = `marker-${++markers}`;
      api.bus.publish(
        { updates: [{ source: { label: 'fuzz' }, values: [{ path: 'fuzz.marker', value: marker }] }] },
        'fuzz',
      );
      const seen = await waitFor(
        () => victim.received.some((m) => m.includes(marker)),
        'the other client to get a delta',
        ANSWER_MS,
        2,
      ).catch(() => false);
      if (!seen)
        throw new Finding(
          'property',
          `a client subscribed to everything got no delta within ${ANSWER_MS} ms after this input (server not serving others)`,
        );
      victim.received.length = 0;
    };

    return {
      generate,
      async run(input) {
        if (!client.open) {
          // Each reconnect picks its query from the input, as a client would vary it.
          const q = hashString(Buffer.from(input).toString('latin1')) % 4;
          client = await StreamClient.open(
            `${base}?subscribe=${['none', 'self', 'all', 'bogus'][q]}&sendCachedValues=${q % 2 === 0}`,
          );
          victim.close();
          victim = await StreamClient.open(`${base}?subscribe=all`);
        }
        const n = ++inputs;
        const payload = input.subarray(1);
        const before = client.received.length;
        client.ws.send(payload, { binary: input[0] === FRAME_BINARY });
        publish(n);
        const answerAt = await sentinelAnswer(client, n);
        const labels: string[] = [];
        if (answerAt === undefined) labels.push(`closed:${client.closeCode}`);
        else {
          // Everything between the message and the sentinel's answer is the answer to the message.
          const replies = client.received.slice(before, answerAt);
          for (const text of replies) {
            let msg: unknown;
            try {
              msg = JSON.parse(text);
            } catch {
              throw new Finding('property', `the server sent text that is not JSON: ${text.slice(0, 200)}`);
            }
            const rec = typeof msg === 'object' && msg !== null ? (msg as Record<string, unknown>) : {};
            labels.push(
              typeof rec.errorMessage === 'string'
                ? `error:${normalize(rec.errorMessage).slice(0, 70)}`
                : Array.isArray(rec.updates)
                  ? 'delta'
                  : 'other',
            );
          }
          if (replies.length === 0) labels.push('silent');
        }
        client.received.length = 0;
        if (n % 50 === 0) await checkVictim();
        // A fresh connection now and then: rows and timers do not pile up, connect/close is exercised.
        if (n % 300 === 0) client.close();
        return labels;
      },
      async close() {
        await checkVictim();
        client.close();
        victim.close();
        await api.api.close();
      },
    };
  },
};
