// A small webapp package in a folder, for the webapp tests: index.html, a script, a stylesheet and
// a dotfile that must never be served.

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function fakeWebapp(dir: string, name: string, opts: { publicDir?: boolean; keyword?: string } = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name,
      version: '1.2.3',
      description: 'test app',
      keywords: [opts.keyword ?? 'signalk-webapp'],
      signalk: { displayName: `App ${name}` },
    }),
  );
  const root = opts.publicDir === false ? dir : join(dir, 'public');
  mkdirSync(join(root, 'js'), { recursive: true });
  writeFileSync(join(root, 'index.html'), `<!doctype html><title>${name}</title>`);
  writeFileSync(join(root, 'js', 'app.js'), 'console.log(1)');
  writeFileSync(join(root, 'style.css'), 'body{}');
  writeFileSync(join(root, '.env'), 'SECRET=1');
}
