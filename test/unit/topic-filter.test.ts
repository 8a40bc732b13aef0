import test from 'ava';
import {
  filterCovers,
  filterError,
  topicError,
  topicMatches,
  validFilter,
  validTopic,
} from '../../hal/net/topic-filter.js';

test('valid topics and filters follow MQTT 3.1.1 §4.7', (t) => {
  for (const topic of ['a', 'boat/x/temp', '/', '/a', 'a//b', '$SYS/broker', 'sport/tennis player1', 'ü/ß'])
    t.true(validTopic(topic), topic);
  for (const topic of ['', 'a/+', 'a/#', 'a+', '#', 'a\u0000b', 'x'.repeat(65_536)])
    t.false(validTopic(topic), JSON.stringify(topic.slice(0, 20)));
  for (const filter of ['#', '+', 'a/#', 'a/+/b', '+/+', '/+', '+/#', '$SYS/#', 'a//b', 'a/b'])
    t.true(validFilter(filter), filter);
  for (const filter of ['', 'a#', 'a/#/b', '#/a', 'a/b#', 'a+', 'a/+b', '++', 'a\u0000'])
    t.false(validFilter(filter), JSON.stringify(filter));
  t.is(filterError('a/#/b'), 'topic filter "a/#/b": # must be a whole level and the last one');
  t.is(filterError('a/b+'), 'topic filter "a/b+": + must be a whole level');
  t.is(topicError('a/+'), 'topic "a/+" contains a wildcard (+ or #)');
  t.is(topicError(''), 'topic must be a non-empty string');
});

test('topicMatches: + takes one level, # the parent and any children, $ topics need a literal first level', (t) => {
  const yes: [string, string][] = [
    ['boat/+/temp', 'boat/x/temp'],
    ['boat/+/temp', 'boat//temp'], // an empty level is a level
    ['sport/#', 'sport'],
    ['sport/#', 'sport/tennis/player1'],
    ['#', 'a/b/c'],
    ['+', 'a'],
    ['+/+', '/finance'],
    ['/+', '/finance'],
    ['$SYS/#', '$SYS/broker/load'],
    ['$SYS/+', '$SYS/x'],
    ['a/b', 'a/b'],
  ];
  const no: [string, string][] = [
    ['boat/+/temp', 'boat/x/y/temp'],
    ['boat/+/temp', 'boat/temp'],
    ['sport/+', 'sport'],
    ['+', '/finance'],
    ['#', '$SYS/broker'],
    ['+/broker', '$SYS/broker'],
    ['a/b', 'a/b/c'],
    ['a/b/c', 'a/b'],
    ['A/b', 'a/b'],
  ];
  for (const [f, topic] of yes) t.true(topicMatches(f, topic), `${f} matches ${topic}`);
  for (const [f, topic] of no) t.false(topicMatches(f, topic), `${f} does not match ${topic}`);
});

test('filterCovers: the examples the grants rely on', (t) => {
  const yes: [string, string][] = [
    ['boat/+/temp', 'boat/x/temp'],
    ['boat/+/temp', 'boat/+/temp'],
    ['boat/#', 'boat/+/temp'],
    ['boat/#', 'boat'],
    ['boat/#', 'boat/#'],
    ['#', 'boat/#'],
    ['#', '+/#'],
    ['+/#', '#'],
    ['#', '#'],
    ['$SYS/#', '$SYS/+'],
    ['/+/#', '/#'], // `/#` cannot match its parent: the empty string is no topic
    ['a/b', 'a/b'],
  ];
  const no: [string, string][] = [
    ['boat/+/temp', '#'],
    ['boat/+/temp', 'boat/#'],
    ['boat/+/temp', 'boat/x/y'],
    ['boat/x/temp', 'boat/+/temp'],
    ['boat/+', 'boat/#'], // boat/# also matches boat and boat/a/b
    ['boat/+/#', 'boat/#'], // boat/# matches boat, which boat/+/# does not
    ['#', '$SYS/#'],
    ['+/#', '$SYS/x'],
    ['+/+/#', '#'],
    ['a/+/#', 'a/#'],
    ['a/b', 'a/b/c'],
    ['a/b/c', 'a/b'],
  ];
  for (const [o, i] of yes) t.true(filterCovers(o, i), `${o} covers ${i}`);
  for (const [o, i] of no) t.false(filterCovers(o, i), `${o} does not cover ${i}`);
});

/** Every sequence of 1..maxLevels levels drawn from `alphabet`. */
function* sequences(alphabet: readonly string[], maxLevels: number): Generator<string[]> {
  for (let n = 1; n <= maxLevels; n++) {
    const idx = new Array<number>(n).fill(0);
    for (;;) {
      yield idx.map((i) => alphabet[i]);
      let k = n - 1;
      while (k >= 0 && ++idx[k] === alphabet.length) idx[k--] = 0;
      if (k < 0) break;
    }
  }
}

test('filterCovers agrees with topicMatches on every filter pair and topic of a small universe', (t) => {
  // Filters of up to 3 levels over literals a, $s and an empty level plus both wildcards; topics of
  // up to 4 levels over the same literals plus a fresh one, which is enough to find a topic
  // matched by `inner` and not `outer` whenever there is one.
  const filters = [...sequences(['a', '$s', '', '+', '#'], 3)].map((l) => l.join('/')).filter(validFilter);
  const topics = [...sequences(['a', '$s', '', 'z'], 4)].map((l) => l.join('/')).filter(validTopic);
  const matched = new Map(filters.map((f) => [f, topics.filter((topic) => topicMatches(f, topic))]));
  let pairs = 0;
  let covered = 0;
  const wrong: string[] = [];
  for (const outer of filters) {
    for (const inner of filters) {
      pairs++;
      const expected = (matched.get(inner) ?? []).every((topic) => topicMatches(outer, topic));
      const got = filterCovers(outer, inner);
      if (got) covered++;
      if (got !== expected)
        wrong.push(`filterCovers(${JSON.stringify(outer)}, ${JSON.stringify(inner)}) = ${got}, expected ${expected}`);
    }
  }
  t.deepEqual(wrong.slice(0, 10), []);
  t.true(pairs > 10_000, `${pairs} pairs`);
  t.true(covered > 100 && covered < pairs / 2, `${covered} covered of ${pairs}`);
});
