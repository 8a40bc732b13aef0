// Path and context patterns as signalk-server's subscription manager reads them:
// dots are literal, `*` matches any run of characters (including dots). Matched without regular
// expressions: patterns come from clients and plugin manifests, and a regex built from
// `*a*a*a…*b` backtracks for minutes on a path of a's, while a long one cannot even be compiled.

const STAR = 0x2a;

/**
 * Wildcard match in at most O(pattern × value) steps, about linear in practice: after a mismatch
 * only the last `*` is retried one character further; earlier stars never need revisiting.
 */
export function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === '*' || pattern === value) return true;
  let p = 0;
  let v = 0;
  let star = -1;
  let resume = 0;
  while (v < value.length) {
    const c = p < pattern.length ? pattern.charCodeAt(p) : -1;
    if (c === STAR) {
      star = p++;
      resume = v;
    } else if (c === value.charCodeAt(v)) {
      p++;
      v++;
    } else if (star >= 0) {
      p = star + 1;
      v = ++resume;
    } else {
      return false;
    }
  }
  while (p < pattern.length && pattern.charCodeAt(p) === STAR) p++;
  return p === pattern.length;
}

/** A context pattern matcher; `vessels.self` means the self vessel. */
export function contextMatcher(pattern: string | undefined, selfContext: string): (context: string) => boolean {
  if (!pattern || pattern === 'vessels.self') return (c) => c === selfContext;
  if (pattern === '*') return () => true;
  return (c) => matchesPattern(pattern, c);
}

/** Distinct keys a `memoize`d matcher remembers; past it, it starts over (AIS brings many contexts). */
const MEMO_LIMIT = 4096;

/**
 * `compute` remembered per key (a path, `context\0path`): a bus repeats the same few hundred paths,
 * so each subscriber matches a path against its patterns once instead of once per delta.
 */
export function memoize<T>(compute: (key: string) => T): (key: string) => T {
  const memo = new Map<string, T>();
  return (key) => {
    let v = memo.get(key);
    if (v === undefined && !memo.has(key)) {
      if (memo.size >= MEMO_LIMIT) memo.clear();
      v = compute(key);
      memo.set(key, v);
    }
    return v as T;
  };
}
