// Replaying signalk-server's own sample (samples/aava-n2k.data, canboat plain format, fetched with
// npm pack) through an `n2k-replay` gateway source gives the vessel tree signalk-server 2.32.0
// gives from it: every value recorded from a run of signalk-server (test/fixtures/n2k/
// aava-signalk-server.json, provenance inside) is compared with ours, context by context.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { startTestRuntime } from '../helpers/runtime.js';
import { treeValues, type TreeValues } from '../helpers/signalk-tree.js';
import { upstreamSample } from '../helpers/upstream-sample.js';
import { waitFor } from '../helpers/wait.js';

const REFERENCE = JSON.parse(
  readFileSync(join(PROJECT_ROOT, 'test', 'fixtures', 'n2k', 'aava-signalk-server.json'), 'utf8'),
) as { values: TreeValues };
const sample = await upstreamSample('samples/aava-n2k.data', import.meta.url);

/** Where ours differs from a recorded value by design, and how ours must look instead; any other difference fails. */
const EXCLUSIONS: {
  why: string;
  applies(context: string, path: string, value: unknown): boolean;
  ours: (mine: unknown) => boolean;
}[] = [
  {
    why: 'signalk-server keeps a value that is not available (canboatjs NaN) as null; our N2K codec leaves it out (hal/codecs/n2k/codec.ts wireValues)',
    applies: (_c, _p, value) => value === null,
    ours: (mine) => mine === undefined,
  },
  {
    why: 'signalk-schema\'s tree fills `url` of shore.basestations.<urn> with "basestations", reading the three-part context as <group>.<id>: not data from the log',
    applies: (context, path) => context.startsWith('shore.basestations.') && path === 'url',
    ours: (mine) => mine === undefined,
  },
];

interface Status {
  id: string;
  state: string;
  lines: number;
  deltas: number;
  errors: Record<string, number>;
  skipped: Record<string, number>;
}

sample.test(
  'aava-n2k.data through an n2k-replay source: the same vessel tree values as signalk-server 2.32.0',
  async (t) => {
    const rt = await startTestRuntime({
      sources: [
        {
          id: 'aava',
          type: 'n2k-replay',
          interface: 'aava',
          transport: { kind: 'file', file: sample.file, rate: 'fast', loop: false },
        },
      ],
    });
    t.teardown(rt.stop);
    const status = await waitFor(
      async () => {
        const body = (await (await fetch(`${rt.url}/edge/v1/status`)).json()) as { sources: Status[] };
        const s = body.sources.find((x) => x.id === 'aava');
        return s?.state === 'ended' ? s : undefined;
      },
      'the replay to end',
      120_000,
    );
    t.log(
      `frames ${status.lines}, deltas ${status.deltas}, errors ${JSON.stringify(status.errors)}, skipped ${JSON.stringify(status.skipped)}`,
    );
    t.deepEqual(status.errors, {}, 'every line of the log is read');

    const ours = treeValues(await (await fetch(`${rt.url}/signalk/v1/api/`)).json());
    let compared = 0;
    const skipped = new Map<string, number>();
    const differences: string[] = [];
    for (const [context, values] of Object.entries(REFERENCE.values)) {
      for (const [path, value] of Object.entries(values)) {
        const mine = ours[context]?.[path];
        if (JSON.stringify(mine) === JSON.stringify(value)) {
          compared++;
          continue;
        }
        const excluded = EXCLUSIONS.find((e) => e.applies(context, path, value) && e.ours(mine));
        if (excluded) skipped.set(excluded.why, (skipped.get(excluded.why) ?? 0) + 1);
        else
          differences.push(`${context} ${path}: ours ${JSON.stringify(mine)}, signalk-server ${JSON.stringify(value)}`);
      }
    }
    t.log(`${compared} recorded values equal in ${Object.keys(REFERENCE.values).length} contexts`);
    for (const [why, n] of skipped) t.log(`${n} differ by design: ${why}`);
    t.true(compared > 1600, `${compared} values equal`);
    t.deepEqual(differences, []);
    // Nothing beyond what signalk-server had either: no context of ours it does not know.
    t.deepEqual(
      Object.keys(ours).filter((c) => !(c in REFERENCE.values)),
      [],
    );
  },
);
