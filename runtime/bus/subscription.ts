// Path and context patterns as signalk-server's subscription manager reads them:
// dots are literal, `*` matches any run of characters (including dots).

const cache = new Map<string, RegExp>();

export function patternToRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    const body = pattern
      .split('*')
      .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*');
    re = new RegExp(`^${body}$`);
    if (cache.size > 1000) cache.clear();
    cache.set(pattern, re);
  }
  return re;
}

export function matchesPattern(pattern: string, value: string): boolean {
  if (pattern === '*' || pattern === value) return true;
  return patternToRegExp(pattern).test(value);
}

/** A context pattern matcher; `vessels.self` means the self vessel. */
export function contextMatcher(pattern: string | undefined, selfContext: string): (context: string) => boolean {
  if (!pattern || pattern === 'vessels.self') return (c) => c === selfContext;
  if (pattern === '*') return () => true;
  const re = patternToRegExp(pattern);
  return (c) => re.test(c);
}
