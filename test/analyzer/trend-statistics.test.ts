import { test } from 'node:test';
import assert from 'node:assert/strict';
import { kendallS, kendallVariance, NO_TIES, tieTerms } from '../../analyzer/series/kendall.js';
import { mannKendall, varianceInflation } from '../../analyzer/series/mann-kendall.js';
import { maxOf, medianEstimate } from '../../analyzer/series/median.js';
import { normalQuantile, normalUpperTail } from '../../analyzer/series/normal.js';
import { orderStatistics, selectKth } from '../../analyzer/series/select.js';
import { theilSen } from '../../analyzer/series/theil-sen.js';
import { analyzeTrend, evenSubsample } from '../../analyzer/series/trend.js';
import { mulberry32, shuffleInPlace } from '../../common/prng.js';
import { gaussian, sawtooth, series } from '../helpers/analyzer-series.js';

test('normal quantile and tail agree with tables', () => {
  assert.ok(Math.abs(normalQuantile(0.975) - 1.959964) < 1e-5);
  assert.ok(Math.abs(normalQuantile(0.005) + 2.575829) < 1e-5);
  assert.ok(Math.abs(normalUpperTail(1.959964) - 0.025) < 1e-6);
  assert.ok(normalUpperTail(10) > 0 && normalUpperTail(10) < 1e-20, 'far tail keeps its precision');
  assert.throws(() => normalQuantile(1), /p must be in/);
});

test('Kendall S and its variance with ties', () => {
  assert.equal(kendallS([1, 2, 3], [1, 3, 2]), 1);
  assert.equal(kendallVariance(10, NO_TIES, NO_TIES), 125);
  assert.deepEqual(tieTerms([1, 1, 2, 3, 3, 3]), { a: 18 + 66, b: 6, c: 2 + 6 });
  // Ties in y lower the variance: 10 values with two groups of 2 tied.
  assert.ok(kendallVariance(10, NO_TIES, tieTerms([1, 1, 2, 3, 3, 4, 5, 6, 7, 8])) < 125);
});

test('quickselect finds order statistics of a shuffled array', () => {
  const rand = mulberry32(3);
  const a = Float64Array.from({ length: 10_001 }, (_, i) => i);
  shuffleInPlace(a, rand);
  assert.equal(selectKth(a.slice(), 5000), 5000);
  assert.deepEqual(orderStatistics(a.slice(), [9000, 17, 5000, 5000]), [9000, 17, 5000, 5000]);
});

test('Theil–Sen recovers an exact line and ignores outliers', () => {
  const x = [...Array(50).keys()];
  const y = x.map((v) => 7 + 3 * v);
  const exact = theilSen(x, y, { confidence: 0.95 })!;
  assert.equal(exact.estimate, 3);
  assert.equal(exact.low, 3);
  assert.equal(exact.high, 3);
  y[10] = 1e9; // a GC spike
  y[40] = -1e9;
  assert.equal(theilSen(x, y, { confidence: 0.95 })!.estimate, 3);
  assert.equal(theilSen([1, 1, 1], [1, 2, 3], { confidence: 0.95 }), null, 'no distinct x');
});

test('Sen interval covers the true slope at about the nominal rate', () => {
  let covered = 0;
  const seeds = 60;
  for (let seed = 1; seed <= seeds; seed++) {
    const g = gaussian(seed);
    const pts = series(150, (_i, req) => 1e6 + 250 * req + 40_000 * g());
    const est = analyzeTrend(pts, { confidence: 0.95 }).perRequest!;
    if (est.low <= 250 && 250 <= est.high) covered++;
  }
  // 95 % nominal; binomial spread over 60 seeds, and the serial-correlation factor only widens.
  assert.ok(covered >= 52, `covered ${covered}/${seeds}`);
});

test('Mann–Kendall: trend significant, iid noise not; serial correlation inflates the variance', () => {
  assert.ok(mannKendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).pValue < 0.001);
  const g = gaussian(9);
  let significant = 0;
  for (let k = 0; k < 40; k++) if (mannKendall(Array.from({ length: 80 }, () => g())).pValue < 0.01) significant++;
  assert.ok(significant <= 3, `iid noise significant ${significant}/40 at 1 %`);
  // A slow random walk (strong positive autocorrelation) gets n/n* > 1.
  let w = 0;
  const walk = Array.from({ length: 300 }, () => (w += g()));
  assert.ok(varianceInflation(walk) > 2);
  assert.equal(varianceInflation([1, 2, 3]), 1);
});

test('subsampling keeps the ends and bounds the work', () => {
  assert.deepEqual(evenSubsample([1, 2, 3, 4, 5], 3), [1, 3, 5]);
  const pts = series(7000, (_i, req) => 5e7 + 300 * req);
  const t0 = performance.now();
  const r = analyzeTrend(pts, { maxSamples: 1500 });
  assert.equal(r.n, 1500);
  assert.equal(r.subsampledFrom, 7000);
  assert.ok(Math.abs(r.perRequest!.estimate - 300) < 1e-6);
  assert.ok(performance.now() - t0 < 20_000);
});

test('median estimate brackets the median', () => {
  const m = medianEstimate([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.95)!;
  assert.equal(m.estimate, 5);
  assert.ok(m.low <= 5 && m.high >= 5 && m.low < m.high);
  assert.equal(medianEstimate([], 0.95), null);
});

test('sawtooth helper really is a sawtooth', () => {
  const v = Array.from({ length: 40 }, (_, i) => sawtooth(i, 10, 0));
  assert.equal(v[0], 0);
  assert.ok(v[9]! > 0.85 && v[10] === 0);
});

test('maxOf takes a long soak of samples (Math.max(...xs) overflows the stack there)', () => {
  const xs = Float64Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 300_000);
  assert.throws(() => Math.max(...xs), RangeError);
  assert.equal(maxOf(xs), 299_999);
  assert.equal(maxOf([]), -Infinity);
});
