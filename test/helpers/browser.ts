// Headless Chromium for the webapp tests: Debian's `chromium` driven by playwright-core (no browser
// download). Tests declare it with systemTool (skipped with the package's name where it is
// missing); screenshots go to test-output/ (git-ignored).

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { PROJECT_ROOT } from '../../runtime/config/settings.js';

export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
export const OUTPUT_DIR = join(PROJECT_ROOT, 'test-output', 'browser');

export function outputFile(name: string): string {
  mkdirSync(OUTPUT_DIR, { recursive: true });
  return join(OUTPUT_DIR, name);
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // No network beyond the test server: no updates, sync, QUIC probes or first-run pages.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
