// Typed reads of untrusted settings JSON: every failure is a SettingsError naming the key that is
// wrong (`sources[1].baudRate: ...`), so each part parses its own section the same way.

import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export class SettingsError extends Error {
  constructor(
    readonly file: string,
    readonly key: string,
    detail: string,
  ) {
    super(`${file}: ${key ? `${key}: ` : ''}${detail}`);
    this.name = 'SettingsError';
  }
}

type Obj = Record<string, unknown>;

/** Typed reads of untrusted JSON that fail with a SettingsError naming the key. */
export class Reader {
  constructor(readonly file: string) {}
  fail(key: string, detail: string): never {
    throw new SettingsError(this.file, key, detail);
  }
  obj(v: unknown, key: string): Obj {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(key, `must be an object, got ${kind(v)}`);
    return v as Obj;
  }
  known(o: Obj, key: string, allowed: readonly string[]): void {
    for (const k of Object.keys(o)) {
      if (!allowed.includes(k)) this.fail(key ? `${key}.${k}` : k, `unknown key (allowed: ${allowed.join(', ')})`);
    }
  }
  list(v: unknown, key: string): unknown[] {
    if (!Array.isArray(v)) this.fail(key, `must be an array, got ${kind(v)}`);
    return v;
  }
  str(v: unknown, key: string): string {
    if (typeof v !== 'string' || v === '') this.fail(key, `must be a non-empty string, got ${kind(v)}`);
    return v;
  }
  int(v: unknown, key: string, min: number, max: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.fail(key, `must be an integer from ${min} to ${max}, got ${shown(v)}`);
    }
    return v;
  }
  bool(v: unknown, key: string): boolean {
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${kind(v)}`);
    return v;
  }
  /** A file that must exist; a relative path resolves against `base` (the settings file's folder). */
  existingFile(v: unknown, key: string, base: string): string {
    const file = resolve(base, this.str(v, key));
    if (!existsSync(file)) this.fail(key, `no such file: ${file}`);
    return file;
  }
  oneOf<T extends string | number>(v: unknown, key: string, allowed: readonly T[]): T {
    if (!allowed.includes(v as T)) this.fail(key, `must be one of ${allowed.join(', ')}, got ${shown(v)}`);
    return v as T;
  }
}

function kind(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v) : typeof v;
}

/** A value as an error shows it: scalars as JSON, a list or object by kind only (it may nest deeper than JSON.stringify can go). */
function shown(v: unknown): string {
  return typeof v === 'object' && v !== null ? kind(v) : String(JSON.stringify(v));
}
