// Used by scripts/release.sh: writes release.json into a staged release folder and fails when any
// .node file there is not machine code for the target.
//   node dist/runtime/release/write-manifest.js DIR --target ID [--omit PACKAGE=REASON]...

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildManifest, MANIFEST_FILE } from './manifest.js';
import { isTargetId } from './targets.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { target: { type: 'string' }, omit: { type: 'string', multiple: true } },
});
const dir = positionals[0];
const target = values.target;
if (!dir || !isTargetId(target)) {
  console.error('usage: write-manifest.js DIR --target linux-arm64|linux-armv7|linux-x64 [--omit PACKAGE=REASON]...');
  process.exit(2);
}
const omitted = (values.omit ?? []).map((o) => {
  const eq = o.indexOf('=');
  return { package: o.slice(0, eq), reason: o.slice(eq + 1) };
});
const { manifest, wrong } = buildManifest(dir, target, omitted);
if (wrong.length > 0) {
  console.error(`write-manifest: not ${target} machine code:\n  ${wrong.join('\n  ')}`);
  process.exit(1);
}
writeFileSync(join(dir, MANIFEST_FILE), JSON.stringify(manifest, null, 2) + '\n');
for (const a of manifest.addons) console.log(`  ${a.machine.padEnd(7)} ${a.bits}-bit  ${a.from.padEnd(8)} ${a.file}${a.needs ? ` (needs ${a.needs})` : ''}`);
for (const o of manifest.omitted) console.log(`  left out: ${o.package} (${o.feature}): ${o.reason}`);
