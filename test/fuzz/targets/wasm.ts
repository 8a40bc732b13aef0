// Target 6: plugin binaries → runtime/engine: validate → prepare (memory-cap rewrite) → AOT cache →
// compile → imports (env, WASI, signalk_hal) → instantiate → start / deliver / poll / stop under
// the CallGuard, with a recording host. Inputs: the plugins built from source in the repo
// (examples/ and test/fixtures/plugins/), mutated: byte flips, truncation, section sizes edited,
// sections duplicated, dropped, swapped or taken from another module, memory limits rewritten,
// a start section added.
// Properties: only PluginLoadError (or the guard's timeout for start code that never returns)
// escapes a load; a module that validates and is prepared still
// validates (the rewrite never breaks a module); a damaged cache entry is rebuilt to the same
// bytes; a module that loads starts, runs and stops with at most a trap or a timeout (an error,
// not a crash).

import { readFileSync, rmSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FLAG_NAMES } from '../../../runtime/capabilities/grant.js';
import { CapabilityPolicy } from '../../../runtime/capabilities/policy.js';
import { cacheEntryPath, prepareCached } from '../../../runtime/engine/aot-cache.js';
import { loadPluginBytes, PluginLoadError, type PluginInstance } from '../../../runtime/engine/index.js';
import { prepareModule } from '../../../runtime/engine/prepare.js';
import { validateModule } from '../../../runtime/engine/validate.js';
import { CallGuard, CallTimeoutError } from '../../../runtime/plugins/call-guard.js';
import { createDevices } from '../../../hal/devices.js';
import type { DeviceHost } from '../../../runtime/abi/devices/index.js';
import { ensurePluginsBuilt } from '../../helpers/plugin-wasm.js';
import { EXAMPLES, FIXTURES } from '../../helpers/plugins.js';
import { RecordingHost } from '../../helpers/recording-host.js';
import { tempDir } from '../../helpers/temp.js';
import { Finding, expect, normalize, type FuzzTarget, type TargetModule } from '../harness.js';
import { concat, mutateBytes } from '../mutate.js';
import type { Rng } from '../rng.js';

const MEMORY_LIMIT_MB = 16;
// Short: some seeds (spin-on-load, spin-on-delta) loop on purpose, and each costs one bound.
const CALL_TIMEOUT_MS = 50;
const SAMPLE_DELTA = JSON.stringify({
  context: 'vessels.self',
  updates: [
    {
      $source: 'fuzz',
      timestamp: '2024-06-15T10:15:00.000Z',
      values: [
        { path: 'navigation.speedOverGround', value: 3.2 },
        { path: 'environment.wind.angleApparent', value: 0.5 },
      ],
    },
  ],
});

interface Section {
  id: number;
  /** Offset of the id byte. */
  start: number;
  /** Offset of the body. */
  body: number;
  end: number;
}

/** The section headers, as far as they can be read (a damaged module yields fewer). */
function sections(bytes: Uint8Array): Section[] {
  const out: Section[] = [];
  let at = 8;
  while (at < bytes.length) {
    let size = 0;
    let i = 0;
    for (; i < 5; i++) {
      const b = bytes[at + 1 + i];
      if (b === undefined) return out;
      size += (b & 0x7f) * 2 ** (7 * i);
      if ((b & 0x80) === 0) break;
    }
    const body = at + 2 + i;
    if (body + size > bytes.length) return out;
    out.push({ id: bytes[at]!, start: at, body, end: body + size });
    at = body + size;
  }
  return out;
}

function leb(value: number, padTo = 0): number[] {
  const out: number[] = [];
  do {
    let b = value % 128;
    value = Math.floor(value / 128);
    if (value > 0 || out.length + 1 < padTo) b |= 0x80;
    out.push(b);
  } while (value > 0 || out.length < padTo);
  return out;
}

function mutateModule(rng: Rng, seeds: readonly Uint8Array[]): Uint8Array {
  const m = rng.pick(seeds);
  const secs = sections(m);
  const s = secs.length > 0 ? rng.pick(secs) : undefined;
  switch (rng.int(10)) {
    case 0:
    case 1: // byte damage anywhere
      return mutateBytes(rng, m, [], 3);
    case 2: // cut short
      return m.subarray(0, rng.int(m.length));
    case 3: {
      // a section's size off by a little or a lot, or padded (non-canonical LEB128)
      if (!s) break;
      const size = s.end - s.body;
      const next = rng.pick([size + rng.range(-3, 3), rng.int(2 ** 32), size]);
      return concat(
        m.subarray(0, s.start + 1),
        Uint8Array.from(leb(Math.max(0, next), rng.chance(0.3) ? 5 : 0)),
        m.subarray(s.body),
      );
    }
    case 4: // a section twice
      if (!s) break;
      return concat(m.subarray(0, s.end), m.subarray(s.start, s.end), m.subarray(s.end));
    case 5: // a section dropped, or two swapped
      if (!s) break;
      if (rng.chance(0.5)) return concat(m.subarray(0, s.start), m.subarray(s.end));
      {
        const t = rng.pick(secs);
        if (t === s) break;
        const [a, b] = s.start < t.start ? [s, t] : [t, s];
        return concat(
          m.subarray(0, a.start),
          m.subarray(b.start, b.end),
          m.subarray(a.end, b.start),
          m.subarray(a.start, a.end),
          m.subarray(b.end),
        );
      }
    case 6: {
      // a section from another module in its place
      if (!s) break;
      const other = rng.pick(seeds);
      const same = sections(other).filter((x) => x.id === s.id);
      if (same.length === 0) break;
      const donor = rng.pick(same);
      return concat(m.subarray(0, s.start), other.subarray(donor.start, donor.end), m.subarray(s.end));
    }
    case 7: {
      // memory limits rewritten: flags (max, shared, memory64), min and max anywhere
      const mem = secs.find((x) => x.id === 5);
      if (!mem) break;
      const flags = rng.pick([0, 1, 2, 3, 4, 5, 8]);
      const min = rng.pick([0, 1, 255, 256, 257, 65536, rng.int(2 ** 32)]);
      const max = rng.pick([0, 1, 256, 65536, rng.int(2 ** 32)]);
      const body = [1, flags, ...leb(min), ...(flags & 1 ? leb(max) : [])];
      return concat(m.subarray(0, mem.start), Uint8Array.from([5, ...leb(body.length), ...body]), m.subarray(mem.end));
    }
    case 8: {
      // damage inside one section's body only (most often code or data)
      if (!s) break;
      const body = mutateBytes(rng, m.subarray(s.body, s.end), [], 2);
      return concat(m.subarray(0, s.start + 1), Uint8Array.from(leb(body.length)), body, m.subarray(s.end));
    }
    default: {
      // a start section naming some function: it runs during instantiation
      const at = secs.find((x) => x.id > 8)?.start ?? m.length;
      const start = [8, ...leb(leb(rng.int(64)).length), ...leb(rng.int(64))];
      return concat(m.subarray(0, at), Uint8Array.from(start), m.subarray(at));
    }
  }
  return mutateBytes(rng, m, [], 2);
}

function seedModules(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const root of [EXAMPLES, FIXTURES]) {
    for (const name of readdirSync(root)) {
      try {
        out.push(readFileSync(join(root, name, 'plugin.wasm')));
      } catch {
        // not a plugin folder (data files)
      }
    }
  }
  return out;
}

function denyAllHal(): DeviceHost {
  const noFlags = Object.fromEntries(FLAG_NAMES.map((n) => [n, false])) as Record<(typeof FLAG_NAMES)[number], boolean>;
  const policy = new CapabilityPolicy({ requestedFlags: noFlags, requests: [], granted: [], aliases: {} });
  return {
    pluginId: 'fuzz-wasm',
    devices: createDevices(),
    policy: () => policy,
    deny: (cap) => `not granted: ${cap}`,
    mqtt: () => undefined,
    dataReady: () => undefined,
  };
}

export const target: TargetModule = {
  name: 'wasm',
  covers:
    'mutated plugin modules → validate → prepare (memory cap) → AOT cache → compile → instantiate → start/deliver/poll/stop under the CallGuard',
  async create(): Promise<FuzzTarget> {
    await ensurePluginsBuilt();
    const seeds = seedModules();
    if (seeds.length === 0) throw new Error('no built plugins to mutate: run npm run build');
    const cleanups: (() => void)[] = [];
    const dir = tempDir({ teardown: (fn) => cleanups.push(fn) }, 'ske-fuzz-wasm-');
    const vfsRoot = join(dir, 'vfs');
    const cacheDir = join(dir, 'cache');
    mkdirSync(vfsRoot, { recursive: true });
    const guard = new CallGuard(CALL_TIMEOUT_MS);
    const bounded = <T>(fn: () => T, what: string): T => guard.run(fn, what);
    const hal = denyAllHal();
    let inputs = 0;

    /** One guarded call into a loaded instance: a trap or a timeout is an outcome, not a finding. */
    const call = (label: string, fn: () => unknown): string => {
      try {
        guard.run(fn, label);
        return `${label}:ok`;
      } catch (err) {
        return `${label}:${(err as Error).name}`;
      }
    };

    /** The cache must refuse a damaged entry and rebuild it to the same bytes. */
    const checkCache = (bytes: Uint8Array, damage: number): void => {
      const opts = { memoryLimitMB: MEMORY_LIMIT_MB, cacheDir };
      const first = prepareCached('fuzz-wasm', bytes, opts);
      const file = cacheEntryPath(cacheDir, bytes, opts);
      const entry = readFileSync(file);
      const damaged = damage % 2 === 0 ? entry.subarray(0, damage % entry.length) : Buffer.from(entry);
      if (damage % 2 === 1) damaged[damage % damaged.length] ^= 0x40;
      writeFileSync(file, damaged);
      const second = prepareCached('fuzz-wasm', bytes, opts);
      expect(
        second.cache === 'rebuilt' || (second.cache === 'hit' && damaged.equals(entry)),
        () => `a damaged cache entry was used (${second.cache})`,
      );
      expect(
        Buffer.from(second.bytes).equals(Buffer.from(first.bytes)),
        () => 'the rebuilt cache entry differs from the first',
      );
    };

    return {
      generate: (rng) => mutateModule(rng, seeds),
      async run(bytes) {
        const n = ++inputs;
        if (n % 200 === 0) rmSync(cacheDir, { recursive: true, force: true });
        // The preparation alone: a valid module must stay valid through the memory-cap rewrite.
        let valid = true;
        try {
          validateModule('fuzz-wasm', bytes);
        } catch (err) {
          if (!(err instanceof PluginLoadError))
            throw new Finding('crash', `validateModule threw ${(err as Error).name}: ${(err as Error).message}`);
          valid = false;
        }
        if (valid) {
          try {
            const prepared = prepareModule('fuzz-wasm', bytes, { memoryLimitMB: MEMORY_LIMIT_MB });
            expect(
              WebAssembly.validate(prepared.bytes),
              () => 'the memory-cap rewrite turned a valid module into an invalid one',
            );
          } catch (err) {
            if (err instanceof Finding) throw err;
            if (!(err instanceof PluginLoadError))
              throw new Finding('crash', `prepareModule threw ${(err as Error).name}: ${(err as Error).message}`);
          }
          if (n % 5 === 0) {
            try {
              checkCache(bytes, n);
            } catch (err) {
              if (!(err instanceof PluginLoadError)) throw err;
            }
          }
        }
        let instance: PluginInstance;
        try {
          instance = await loadPluginBytes({
            id: 'fuzz-wasm',
            bytes,
            vfsRoot,
            host: new RecordingHost({ pluginId: 'fuzz-wasm' }),
            memoryLimitMB: MEMORY_LIMIT_MB,
            cacheDir: n % 3 === 0 ? cacheDir : undefined,
            hal,
            guard: bounded,
          });
        } catch (err) {
          if (err instanceof PluginLoadError) return [`load:${normalize(err.reason).slice(0, 60)}`];
          // Start code that runs past the bound while loading is stopped: an error, like a trap.
          if (err instanceof CallTimeoutError) return ['load:timeout'];
          throw new Finding(
            'crash',
            `loading threw ${(err as Error).name}, not PluginLoadError: ${(err as Error).message}`,
          );
        }
        const labels = [
          'loaded',
          call('start', () => instance.start('{}')),
          call('delta', () => instance.deliverDelta(SAMPLE_DELTA)),
          call('poll', () => instance.poll()),
          call('stop', () => instance.stop()),
        ];
        instance.close();
        return labels;
      },
      async close() {
        for (const c of cleanups) c();
      },
    };
  },
};
