// Mutators shared by the fuzz targets: bytes (flips, interesting values, inserts, deletes,
// duplicated ranges, truncation, dictionary tokens) and JSON trees (wrong types, prototype keys,
// deep nesting, long strings), with a serializer for JSON text that JSON.stringify cannot write
// (nesting thousands deep, duplicate keys, tokens that are not JSON).

import type { Rng } from './rng.js';

const INTERESTING_BYTES = [
  0x00, 0x01, 0x7f, 0x80, 0xff, 0x0a, 0x0d, 0x20, 0x24, 0x21, 0x2a, 0x2c, 0x5c, 0x2e, 0x22, 0x7b, 0x5b,
];

/** Applies 1..maxOps random byte mutations; `dict` tokens are inserted or overwritten in place. */
export function mutateBytes(rng: Rng, input: Uint8Array, dict: readonly Uint8Array[] = [], maxOps = 4): Uint8Array {
  let b: Uint8Array = Uint8Array.from(input);
  const ops = rng.range(1, maxOps);
  for (let n = 0; n < ops; n++) {
    const at = b.length === 0 ? 0 : rng.int(b.length);
    switch (rng.int(dict.length > 0 ? 9 : 8)) {
      case 0: // flip a bit
        if (b.length > 0) b[at] ^= 1 << rng.int(8);
        break;
      case 1: // an interesting byte
        if (b.length > 0) b[at] = rng.pick(INTERESTING_BYTES);
        break;
      case 2: // a random byte
        if (b.length > 0) b[at] = rng.int(256);
        break;
      case 3: // insert random bytes
        b = concat(b.subarray(0, at), rng.bytes(rng.logScale(16)), b.subarray(at));
        break;
      case 4: {
        // delete a range
        const len = rng.logScale(Math.max(1, b.length - at));
        b = concat(b.subarray(0, at), b.subarray(at + len));
        break;
      }
      case 5: {
        // duplicate a range
        const len = rng.logScale(Math.max(1, b.length - at));
        const copies = rng.logScale(8);
        const range = b.subarray(at, at + len);
        b = concat(b.subarray(0, at + len), ...Array.from({ length: copies }, () => range), b.subarray(at + len));
        break;
      }
      case 6: // truncate
        b = b.subarray(0, at);
        break;
      case 7: {
        // swap two ranges' bytes
        const other = b.length === 0 ? 0 : rng.int(b.length);
        if (b.length > 0) [b[at], b[other]] = [b[other]!, b[at]!];
        break;
      }
      default: {
        // a dictionary token, inserted or overwriting
        const token = rng.pick(dict);
        b = rng.chance(0.5)
          ? concat(b.subarray(0, at), token, b.subarray(at))
          : concat(b.subarray(0, at), token, b.subarray(at + token.length));
      }
    }
  }
  return b;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return Buffer.concat(parts);
}

export const latin1 = (text: string): Uint8Array => Buffer.from(text, 'latin1');
export const utf8 = (text: string): Uint8Array => Buffer.from(text, 'utf8');

/** Names of built-in object members: as keys they may reach what a naive reader did not mean to. */
const OBJECT_MEMBERS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

/** Strings that break naive parsers and number readers. */
export const NASTY_STRINGS = [
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '-0',
  '1e309',
  '0x10',
  '1_000',
  'null',
  'undefined',
  'true',
  ...OBJECT_MEMBERS,
  '*',
  '**',
  '.',
  '..',
  'a..b',
  '.a',
  'a.',
  '$',
  '\u0000',
  '\ud800',
  '\uffff',
  'é',
  '😀',
  '%00',
  '../../etc/passwd',
  '2024-13-45T25:61:61Z',
  '+275760-09-13T00:00:00.001Z',
  '9999999999999999999999',
];

const NASTY_NUMBERS = [
  0,
  -0,
  1,
  -1,
  0.5,
  2 ** 31 - 1,
  2 ** 31,
  2 ** 32,
  2 ** 53,
  -(2 ** 53),
  1e308,
  -1e308,
  5e-324,
  1e21,
  123456789.123,
];
const PROTO_KEYS = [...OBJECT_MEMBERS, '__defineGetter__', 'then'];

/** JSON written as text as it is: duplicate keys, non-JSON tokens (`NaN`, `1e400`), cut text. */
export class RawJson {
  constructor(readonly text: string) {}
}

/** `open.repeat(depth) + inner + close.repeat(depth)`: nesting far deeper than JSON.stringify can write. */
export class DeepNest {
  constructor(
    readonly depth: number,
    readonly kind: 'array' | 'object',
    readonly inner: unknown,
  ) {}
}

/** Keys as they appear in the text (including `__proto__` as an own key). */
export type JsonTree = unknown;

/** Serializes a tree that may hold RawJson and DeepNest nodes. */
export function toJsonText(v: JsonTree): string {
  if (v instanceof RawJson) return v.text;
  if (v instanceof DeepNest) {
    const [open, close] = v.kind === 'array' ? ['[', ']'] : ['{"a":', '}'];
    return open.repeat(v.depth) + toJsonText(v.inner) + close.repeat(v.depth);
  }
  if (Array.isArray(v)) return `[${v.map(toJsonText).join(',')}]`;
  if (typeof v === 'object' && v !== null) {
    return `{${Object.keys(v)
      .map((k) => `${JSON.stringify(k)}:${toJsonText((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
  return JSON.stringify(v) ?? 'null';
}

/** A string made for fuzzing: nasty values, long runs, stars and dots, dictionary words. */
export function randomString(rng: Rng, words: readonly string[] = []): string {
  switch (rng.int(6)) {
    case 0:
      return rng.pick(NASTY_STRINGS);
    case 1:
      return 'x'.repeat(rng.logScale(70_000));
    case 2: {
      // segments joined by dots and stars (paths, patterns)
      const n = rng.logScale(40);
      const parts = Array.from({ length: n }, () =>
        words.length > 0 && rng.chance(0.6)
          ? rng.pick(words)
          : rng.pick(['a', 'e', '*', '', 'navigation', 'x'.repeat(rng.logScale(300))]),
      );
      return parts.join(rng.pick(['.', '*', '.*', '']));
    }
    case 3:
      return String.fromCharCode(...Array.from({ length: rng.logScale(40) }, () => rng.int(0x10000)));
    case 4:
      return words.length > 0 ? rng.pick(words) : 'a';
    default:
      return Array.from({ length: rng.logScale(20) }, () => String.fromCharCode(rng.range(0x20, 0x7e))).join('');
  }
}

/** A random JSON value of any shape, `keys` preferred as object keys. */
export function randomJson(rng: Rng, keys: readonly string[] = [], depth = 0): JsonTree {
  const kind = depth > 4 ? rng.int(4) : rng.int(7);
  switch (kind) {
    case 0:
      return null;
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.chance(0.5) ? rng.pick(NASTY_NUMBERS) : (rng.float() - 0.5) * 10 ** rng.range(0, 12);
    case 3:
      return randomString(rng, keys);
    case 4:
      return Array.from({ length: rng.logScale(6) - 1 }, () => randomJson(rng, keys, depth + 1));
    case 5: {
      const o: Record<string, unknown> = {};
      const n = rng.logScale(6) - 1;
      for (let i = 0; i < n; i++) {
        const k =
          keys.length > 0 && rng.chance(0.7)
            ? rng.pick(keys)
            : rng.chance(0.2)
              ? rng.pick(PROTO_KEYS)
              : randomString(rng);
        Object.defineProperty(o, k, {
          value: randomJson(rng, keys, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return o;
    }
    default:
      return rng.pick([
        new RawJson('NaN'),
        new RawJson('1e400'),
        new RawJson('-0'),
        new RawJson('123456789012345678901234567890'),
        new RawJson('"\\ud800"'),
        new RawJson('{"a":1,"a":2}'),
      ]);
  }
}

/** Containers of a tree (objects and arrays) up to a depth, for picking a mutation site. */
function containers(
  v: JsonTree,
  out: (Record<string, unknown> | unknown[])[] = [],
  depth = 0,
): (Record<string, unknown> | unknown[])[] {
  if (depth > 24 || typeof v !== 'object' || v === null || v instanceof RawJson || v instanceof DeepNest) return out;
  out.push(v as Record<string, unknown> | unknown[]);
  for (const child of Array.isArray(v) ? v : Object.values(v)) containers(child, out, depth + 1);
  return out;
}

/** A deep copy of plain JSON data (own `__proto__` keys kept as data). */
export function cloneJson<T extends JsonTree>(v: T): T {
  if (Array.isArray(v)) return v.map(cloneJson) as T;
  if (typeof v === 'object' && v !== null && !(v instanceof RawJson) && !(v instanceof DeepNest)) {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v))
      Object.defineProperty(o, k, {
        value: cloneJson((v as Record<string, unknown>)[k]),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    return o as T;
  }
  return v;
}

function setKey(o: Record<string, unknown>, k: string, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true });
}

/** A mutated copy of a JSON tree: 1..maxOps structural edits at random containers. */
export function mutateJson(rng: Rng, input: JsonTree, keys: readonly string[] = [], maxOps = 3): JsonTree {
  const root: { v: JsonTree } = { v: cloneJson(input) };
  const ops = rng.range(1, maxOps);
  for (let n = 0; n < ops; n++) {
    const sites = [root as unknown as Record<string, unknown>, ...containers(root.v)];
    const site = rng.pick(sites);
    const slots = Array.isArray(site) ? site.map((_, i) => i) : Object.keys(site);
    const slot =
      site === (root as unknown) ? 'v' : slots.length > 0 ? rng.pick(slots as (string | number)[]) : undefined;
    const get = (): unknown => (slot === undefined ? undefined : (site as Record<string | number, unknown>)[slot]);
    const set = (value: unknown): void => {
      if (slot === undefined) return;
      if (Array.isArray(site)) site[slot as number] = value;
      else setKey(site, String(slot), value);
    };
    switch (rng.int(11)) {
      case 0: // wrong type / random value
        set(randomJson(rng, keys));
        break;
      case 1: // a nasty scalar
        set(rng.chance(0.5) ? rng.pick(NASTY_STRINGS) : rng.pick(NASTY_NUMBERS));
        break;
      case 2: // remove
        if (slot === undefined || site === (root as unknown)) break;
        if (Array.isArray(site)) site.splice(slot as number, 1);
        else delete site[slot as string];
        break;
      case 3: // add a key (prototype keys included) or an element
        if (Array.isArray(site)) site.splice(rng.int(site.length + 1), 0, randomJson(rng, keys));
        else if (site !== (root as unknown))
          setKey(
            site,
            rng.chance(0.4)
              ? rng.pick(PROTO_KEYS)
              : rng.chance(0.7) && keys.length > 0
                ? rng.pick(keys)
                : randomString(rng),
            randomJson(rng, keys),
          );
        break;
      case 4: // nest very deep
        set(new DeepNest(rng.logScale(20_000), rng.chance(0.5) ? 'array' : 'object', get() ?? 1));
        break;
      case 5: {
        // duplicate an array element many times
        if (Array.isArray(site) && site.length > 0) {
          const item = site[rng.int(site.length)];
          // Containers repeated in later rounds multiply: few copies of them, many of scalars.
          const copies = rng.logScale(typeof item === 'object' && item !== null ? 20 : 2000);
          for (let i = 0; i < copies; i++) site.push(cloneJson(item));
        } else set(Array.from({ length: rng.logScale(20) }, () => cloneJson(get())));
        break;
      }
      case 6: {
        // mutate a string in place
        const cur = get();
        if (typeof cur === 'string') set(mutateString(rng, cur, keys));
        else set(randomString(rng, keys));
        break;
      }
      case 7: // number edge
        set(rng.pick(NASTY_NUMBERS));
        break;
      case 8: // wrap in an array or object
        set(rng.chance(0.5) ? [get()] : { value: get() });
        break;
      case 9: {
        // rename a key, its value kept (`"*": [...]` becoming `"__proto__": [...]`)
        if (slot === undefined || Array.isArray(site) || site === (root as unknown)) break;
        const value = site[slot as string];
        delete site[slot as string];
        setKey(
          site,
          rng.chance(0.5) ? rng.pick(PROTO_KEYS) : keys.length > 0 ? rng.pick(keys) : randomString(rng),
          value,
        );
        break;
      }
      default: // a token that is not JSON
        set(
          rng.pick([
            new RawJson('NaN'),
            new RawJson('Infinity'),
            new RawJson('1e999'),
            new RawJson('"\\u0000"'),
            new RawJson('"\\ud800"'),
            new RawJson('undefined'),
          ]),
        );
    }
  }
  return root.v;
}

/** String edits: stars, dots, prototype segments, repetition, truncation, odd characters. */
export function mutateString(rng: Rng, s: string, words: readonly string[] = []): string {
  const at = rng.int(s.length + 1);
  switch (rng.int(8)) {
    case 0:
      return s.slice(0, at) + '*' + s.slice(at);
    case 1: {
      // sprinkle stars between characters: the shape of a backtracking pattern
      const stars = rng.logScale(30);
      let out = '';
      for (const ch of s.slice(0, stars)) out += `*${ch}`;
      return out + s.slice(stars) + (rng.chance(0.5) ? '*x' : '');
    }
    case 2:
      return (
        s.slice(0, at) +
        rng.pick(['.', '..', '.__proto__.', '.constructor.prototype.', '\u0000', '"', '\\']) +
        s.slice(at)
      );
    case 3:
      return s.repeat(rng.logScale(400));
    case 4:
      return s.slice(0, at);
    case 5:
      return s.slice(0, at) + (words.length > 0 ? rng.pick(words) : 'x') + s.slice(at);
    case 6:
      return s.split('').reverse().join('');
    default:
      return s.slice(0, at) + String.fromCharCode(rng.int(0x10000)) + s.slice(at + 1);
  }
}

/** Repeated structural edits multiply sizes; inputs are cut at `max` characters (still a fair input: cut text). */
export function capText(text: string, max: number): string {
  return text.length > max ? text.slice(0, max) : text;
}

/** Text-level damage to serialized JSON: cut, flipped, or bytes inserted. */
export function damageText(rng: Rng, text: string): string {
  return Buffer.from(
    mutateBytes(
      rng,
      utf8(text),
      [utf8('"'), utf8('{'), utf8('['), utf8(']'), utf8('}'), utf8(','), utf8(':'), utf8('\\u0000')],
      3,
    ),
  ).toString('utf8');
}
