// Data flows one way, and the folders show it: core/ (shared contracts) imports nothing of the
// project, hal/ (drivers, codecs, sources) imports only core/ and hal/, never runtime/.

import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';

/** Every module specifier of a source file: static imports and re-exports, dynamic import(), require(). */
function specifiers(source: string): string[] {
  const found: string[] = [];
  for (const m of source.matchAll(
    /(?:^|[;\s])(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|(?:^|[;\s])import\s*['"]([^'"]+)['"]|\b(?:import|require)\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  )) {
    found.push(m[1] ?? m[2] ?? m[3]);
  }
  return found;
}

/** The project folder a relative specifier of `file` lands in (`core`, `hal`, `runtime`, ...); undefined for a package. */
function targetFolder(file: string, spec: string): string | undefined {
  if (!spec.startsWith('.')) return undefined;
  return relative(PROJECT_ROOT, resolve(dirname(file), spec)).split(/[\\/]/)[0];
}

/** What `file` (in `folder`) imports that the layering forbids. */
function violations(file: string, folder: 'core' | 'hal', source: string): string[] {
  const allowed = folder === 'core' ? ['core'] : ['core', 'hal'];
  return specifiers(source).filter((spec) => {
    const target = targetFolder(file, spec);
    if (target !== undefined) return !allowed.includes(target);
    // core is a leaf: Node's built-ins only, no packages either.
    return folder === 'core' && !spec.startsWith('node:');
  });
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => join(e.parentPath, e.name));
}

test('the checker finds every kind of import that crosses a layer', (t) => {
  const file = join(PROJECT_ROOT, 'hal', 'can', 'x.ts');
  const source = [
    "import type { DeltaBus } from '../../runtime/bus/bus.js';",
    "import { a,\n  b } from '../frame.js';",
    "export { c } from '../../runtime/log.js';",
    "const m = await import('../../runtime/app.js');",
    "import '../../runtime/side-effect.js';",
    "import { d } from '../../core/delta.js';",
    "import { e } from '@canboat/canboatjs';",
  ].join('\n');
  t.deepEqual(violations(file, 'hal', source), [
    '../../runtime/bus/bus.js',
    '../../runtime/log.js',
    '../../runtime/app.js',
    '../../runtime/side-effect.js',
  ]);
  t.deepEqual(
    violations(
      join(PROJECT_ROOT, 'core', 'x.ts'),
      'core',
      "import { x } from '../hal/driver.js';\nimport { y } from 'mqtt';\nimport { z } from 'node:fs';\nimport { w } from './json.js';",
    ),
    ['../hal/driver.js', 'mqtt'],
  );
});

for (const folder of ['core', 'hal'] as const) {
  test(`${folder}/ imports only ${folder === 'core' ? "Node's built-ins and itself" : 'core/, hal/ and packages'}`, (t) => {
    const files = sources(join(PROJECT_ROOT, folder));
    t.true(files.length > 3, `the sources of ${folder}/ are found`);
    const bad = files.flatMap((file) =>
      violations(file, folder, readFileSync(file, 'utf8')).map(
        (spec) => `${relative(PROJECT_ROOT, file)} imports ${spec}`,
      ),
    );
    t.deepEqual(bad, []);
  });
}
