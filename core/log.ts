// Minimal leveled logger on stderr, with a per-key rate limit so a flood of bad input
// (a noisy serial line, a chatty plugin) cannot flood the journal.

export type Level = 'debug' | 'info' | 'warn' | 'error';
const order: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

function envLevel(): Level {
  const v = process.env.SIGNALK_EDGE_LOG;
  return v === 'debug' || v === 'info' || v === 'warn' || v === 'error' ? v : 'info';
}

let threshold = order[envLevel()];

export function setLogLevel(level: Level): void {
  threshold = order[level];
}

export interface Logger {
  debug(msg: string): void;
  info(msg: string): void;
  warn(msg: string): void;
  error(msg: string): void;
  /** Logs at most once per `intervalMs` for `key`; says how many were suppressed meanwhile. */
  limited(level: Level, key: string, msg: string, intervalMs?: number): void;
}

export function createLogger(name: string): Logger {
  const last = new Map<string, { at: number; suppressed: number }>();
  const write = (level: Level, msg: string): void => {
    if (order[level] < threshold) return;
    process.stderr.write(`${new Date().toISOString()} ${level.padEnd(5)} [${name}] ${msg}\n`);
  };
  return {
    debug: (m) => write('debug', m),
    info: (m) => write('info', m),
    warn: (m) => write('warn', m),
    error: (m) => write('error', m),
    limited(level, key, msg, intervalMs = 10_000) {
      const now = Date.now();
      const entry = last.get(key);
      if (entry && now - entry.at < intervalMs) {
        entry.suppressed++;
        return;
      }
      const extra = entry && entry.suppressed > 0 ? ` (${entry.suppressed} similar suppressed)` : '';
      last.set(key, { at: now, suppressed: 0 });
      write(level, msg + extra);
    },
  };
}
