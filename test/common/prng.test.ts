import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distinctShuffles, mixSeed, mulberry32, shuffleInPlace } from '../../common/prng.js';

test('mulberry32 and mixSeed repeat per seed; nearby seeds give unrelated streams', () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const xs = Array.from({ length: 5 }, a);
  assert.deepEqual(Array.from({ length: 5 }, b), xs);
  for (const x of xs) assert.ok(x >= 0 && x < 1);
  assert.equal(mixSeed(7, 1), mixSeed(7, 1));
  assert.notEqual(mulberry32(mixSeed(7, 1))(), mulberry32(mixSeed(7, 2))());
});

test('shuffleInPlace permutes typed and plain arrays; distinctShuffles gives k different orders, none excluded', () => {
  const a = Float64Array.from({ length: 100 }, (_, i) => i);
  shuffleInPlace(a, mulberry32(1));
  assert.notDeepEqual([...a], [...Array(100).keys()]);
  assert.deepEqual(
    [...a].sort((x, y) => x - y),
    [...Array(100).keys()],
  );
  const items = ['a', 'b', 'c', 'd'];
  // 24 orders, 2 excluded: asking for all 22 others must return exactly them.
  const got = distinctShuffles(items, 22, mulberry32(9), [items, [...items].reverse()]);
  const keys = new Set(got.map((p) => p.join('')));
  assert.equal(keys.size, 22);
  assert.ok(!keys.has('abcd') && !keys.has('dcba'));
  for (const p of got) assert.deepEqual([...p].sort(), items);
  assert.deepEqual(
    distinctShuffles(items, 5, mulberry32(9)),
    distinctShuffles(items, 5, mulberry32(9)),
    'same seed, same orders',
  );
});
