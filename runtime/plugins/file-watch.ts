// Notices when a plugin's .wasm is replaced. Builds and installers replace files by rename, so the
// folder is watched (a watch on the file itself would follow the old inode), events are debounced,
// and a change counts only when the file's identity (inode, size, mtime) differs from last time.

import { watch, statSync, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';
import type { Logger } from '../../core/log.js';

function signature(file: string): string | undefined {
  const st = statSync(file, { throwIfNoEntry: false });
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : undefined;
}

/**
 * Calls onChange after `file` settles into new content (and, with `removal`, after it is deleted);
 * returns a function that stops watching. Event-driven: nothing runs while nothing changes.
 */
export function watchFile(
  file: string,
  debounceMs: number,
  onChange: () => void,
  log: Logger,
  removal = false,
): () => void {
  const name = basename(file);
  let last = signature(file);
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher;
  const settle = (): void => {
    timer = undefined;
    const now = signature(file);
    if ((now === undefined && !removal) || now === last) return;
    last = now;
    onChange();
  };
  try {
    watcher = watch(dirname(file), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== name) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(settle, debounceMs);
      timer.unref();
    });
  } catch (err) {
    log.warn(`cannot watch ${file} for changes: ${(err as Error).message}`);
    return () => undefined;
  }
  watcher.on('error', (err) => log.warn(`watching ${file} failed: ${err.message}`));
  return () => {
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}
