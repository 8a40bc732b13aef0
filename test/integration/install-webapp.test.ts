// install-webapp (child processes: npm pack, tar, the CLI): a tarball made with npm pack installs
// offline and is served by a running API without a restart; a second install replaces the first;
// a tarball with a link, or a package that is not a webapp, is refused with the reason.

import test from 'ava';
import { execFile } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';
import { fakeWebapp } from '../helpers/fake-webapp.js';
import { startBareApi } from '../helpers/runtime.js';
import { call } from '../helpers/security.js';
import { tempDir } from '../helpers/temp.js';
import { waitFor } from '../helpers/wait.js';

const run = promisify(execFile);
const CLI = join(PROJECT_ROOT, 'dist', 'runtime', 'cli', 'main.js');

test('install-webapp: a tarball made with npm pack installs offline and is served without a restart', async (t) => {
  const src = tempDir(t, 'ske-webapp-src-');
  const packs = tempDir(t, 'ske-webapp-packs-');
  const plugins = tempDir(t, 'ske-webapp-plugins-');
  fakeWebapp(join(src, 'app'), '@boat/helm');
  const { stdout: packed } = await run('npm', ['pack', join(src, 'app'), '--pack-destination', packs, '--silent']);
  const tarball = join(packs, packed.trim());
  const { api, url } = await startBareApi({ webappDirs: [plugins] });
  t.teardown(() => api.close());
  t.is((await call(url, 'GET', '/@boat/helm/')).status, 404);

  const { stdout } = await run(process.execPath, [CLI, 'install-webapp', tarball, '--plugins', plugins]);
  t.regex(stdout, /installed @boat\/helm 1\.2\.3/);
  await waitFor(async () => (await call(url, 'GET', '/@boat/helm/')).status === 200, 'served after install', 10_000);
  t.regex(String((await call(url, 'GET', '/@boat/helm/')).body), /<title>@boat\/helm<\/title>/);
  // A second install replaces the first.
  await run(process.execPath, [CLI, 'install-webapp', tarball, '--plugins', plugins]);
  t.is((await call(url, 'GET', '/@boat/helm/js/app.js')).status, 200);

  // A tarball with a symbolic link (npm never packs one) is refused: it could serve any file.
  const evil = join(src, 'evil', 'package');
  mkdirSync(evil, { recursive: true });
  writeFileSync(
    join(evil, 'package.json'),
    JSON.stringify({ name: 'evil-app', version: '1.0.0', keywords: ['signalk-webapp'] }),
  );
  symlinkSync('/etc/passwd', join(evil, 'passwd'));
  await run('tar', ['-czf', join(packs, 'evil.tgz'), '-C', join(src, 'evil'), 'package']);
  const linked = await t.throwsAsync(
    run(process.execPath, [CLI, 'install-webapp', join(packs, 'evil.tgz'), '--plugins', plugins]),
  );
  t.regex(String((linked as { stderr?: string }).stderr), /holds a link .*passwd/);
  t.is((await call(url, 'GET', '/evil-app/passwd')).status, 404);

  // Not a webapp: refused with the reason, nothing installed.
  const other = join(src, 'lib');
  mkdirSync(other);
  writeFileSync(join(other, 'package.json'), JSON.stringify({ name: 'just-a-lib', version: '1.0.0' }));
  const { stdout: libPacked } = await run('npm', ['pack', other, '--pack-destination', packs, '--silent']);
  const err = await t.throwsAsync(
    run(process.execPath, [CLI, 'install-webapp', join(packs, libPacked.trim()), '--plugins', plugins]),
  );
  t.regex(String((err as { stderr?: string }).stderr), /not a Signal K webapp/);
});
