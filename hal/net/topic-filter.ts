// MQTT topic names and topic filters as MQTT 3.1.1 §4.7 defines them: `/` separates levels, `+`
// matches exactly one level, `#` (last level only) matches the parent level and any number of
// children, and a filter that starts with a wildcard never matches a topic that starts with `$`.
// `filterCovers` decides MQTT grants: a plugin may use a filter only if a granted one covers it.

/** Topic names and filters are UTF-8 strings of at most 65535 bytes. */
const MAX_BYTES = 65_535;

function commonError(s: string, what: string): string | undefined {
  if (typeof s !== 'string' || s.length === 0) return `${what} must be a non-empty string`;
  if (Buffer.byteLength(s, 'utf8') > MAX_BYTES) return `${what} is longer than ${MAX_BYTES} bytes`;
  if (s.includes('\u0000')) return `${what} contains a NUL character`;
  return undefined;
}

/** Why `topic` is not a valid topic name to publish to, or undefined when it is. */
export function topicError(topic: string): string | undefined {
  const common = commonError(topic, 'topic');
  if (common !== undefined) return common;
  if (topic.includes('+') || topic.includes('#')) return `topic ${JSON.stringify(topic)} contains a wildcard (+ or #)`;
  return undefined;
}

/** Why `filter` is not a valid topic filter to subscribe to, or undefined when it is. */
export function filterError(filter: string): string | undefined {
  const common = commonError(filter, 'topic filter');
  if (common !== undefined) return common;
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i];
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) {
      return `topic filter ${JSON.stringify(filter)}: # must be a whole level and the last one`;
    }
    if (level.includes('+') && level !== '+') {
      return `topic filter ${JSON.stringify(filter)}: + must be a whole level`;
    }
  }
  return undefined;
}

export function validTopic(topic: string): boolean {
  return topicError(topic) === undefined;
}

export function validFilter(filter: string): boolean {
  return filterError(filter) === undefined;
}

function isWildcard(level: string): boolean {
  return level === '+' || level === '#';
}

/** Whether the (valid) filter matches the (valid) topic name. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && isWildcard(f[0])) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true; // also matches the parent level: `a/#` matches `a`
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Whether every topic `inner` can match is also matched by `outer` (both valid filters).
 * `boat/+/temp` covers `boat/x/temp` and `boat/+/temp`, not `boat/#` or `#`; `#` covers every
 * filter except those reaching `$` topics, which only a filter starting with the same `$` level covers.
 */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  // `inner` reaches `$` topics only when its first level is a literal starting with `$`; a filter
  // starting with a wildcard cannot match those.
  const innerReachesDollar = !isWildcard(n[0]) && n[0].startsWith('$');
  if (innerReachesDollar && isWildcard(o[0])) return false;
  for (let i = 0; i < o.length; i++) {
    if (o[i] === '#') return true;
    if (i >= n.length) return false; // `outer` needs more levels than some topics of `inner` have
    if (n[i] === '#') {
      // `inner` matches its parent (levels before i) and anything deeper. Only `#` here matches the
      // parent too; when the parent is no topic (nothing, or the empty string of `/#`), `+/#` here
      // matches all the rest.
      const parentIsTopic = i > 1 || (i === 1 && n[0] !== '');
      return !parentIsTopic && o[i] === '+' && o.length === i + 2 && o[i + 1] === '#';
    }
    if (o[i] === '+') continue; // any single level of `inner`, literal or `+`
    if (n[i] === '+' || n[i] !== o[i]) return false;
  }
  return o.length === n.length;
}
