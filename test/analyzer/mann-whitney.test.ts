import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mannWhitney } from '../../analyzer/series/mann-whitney.js';
import { gaussian } from '../helpers/analyzer-series.js';

test('Mann–Whitney exact p-values match the counting distribution', () => {
  // Complete separation, 4 vs 4: one of C(8,4) = 70 arrangements.
  const r = mannWhitney([5, 6, 7, 8], [1, 2, 3, 4], 'greater');
  assert.equal(r.method, 'exact');
  assert.equal(r.u, 16);
  assert.ok(Math.abs(r.pValue - 1 / 70) < 1e-12);
  assert.ok(Math.abs(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).pValue - 2 / 252) < 1e-12, 'two-sided 5 vs 5');
  assert.equal(mannWhitney([1, 2, 3, 4], [5, 6, 7, 8], 'greater').pValue, 1);
  // Two instances per group: the smallest two-sided p is 2/C(4,2) = 1/3 (DESIGN.md, Fleet).
  assert.ok(Math.abs(mannWhitney([10, 11], [1, 2]).pValue - 1 / 3) < 1e-12);
  // 4 vs 3: U counts follow the coefficients of the Gaussian binomial [7 choose 3]_q,
  // 1 1 2 3 4 4 5 4 4 3 2 1 1 (35 rank sets), so P(U ≥ 8) = (4 + 3 + 2 + 1 + 1)/35.
  const u8 = mannWhitney([1, 4, 6, 7], [2, 3, 5], 'greater');
  assert.equal(u8.u, 8);
  assert.ok(Math.abs(u8.pValue - 11 / 35) < 1e-12);
  assert.equal(u8.shift, 1.5, 'median of the 12 differences x − y');
  assert.equal(u8.commonLanguage, 8 / 12);
});

test('Mann–Whitney with ties uses the tie-corrected normal approximation', () => {
  const x = [1, 2, 2, 3, 3, 3, 4, 4, 5, 6];
  const y = [0, 1, 1, 2, 2, 2, 3, 3, 4, 4];
  const r = mannWhitney(x, y, 'two-sided');
  assert.equal(r.method, 'normal');
  // By hand: U = Σ (#y below x + ½ #y equal to x) = 70; tie groups 3, 5, 5, 4 give
  // Σ(t³ − t) = 324, Var = (100/12)(21 − 324/380) = 167.89, z = (70 − 50 − ½)/12.957 = 1.505.
  assert.equal(r.u, 70);
  assert.ok(Math.abs(r.pValue - 0.1323) < 1e-3, `p = ${r.pValue}`);
});

test('Mann–Whitney: normal approximation agrees with the exact count for 25 vs 25', () => {
  const g = gaussian(11);
  const x = Array.from({ length: 25 }, () => g() + 0.6);
  const y = Array.from({ length: 25 }, () => g());
  const exact = mannWhitney(x, y, 'greater');
  const approx = mannWhitney([...x, 1e9], [...y, -1e9], 'greater'); // 26 vs 26 still exact
  assert.equal(exact.method, 'exact');
  assert.ok(exact.pValue < 0.05 && approx.pValue < exact.pValue);
  const big = mannWhitney(
    Array.from({ length: 40 }, () => g() + 0.6),
    Array.from({ length: 40 }, () => g()),
    'greater',
  );
  assert.equal(big.method, 'normal');
  assert.ok(big.pValue < 0.05);
  assert.throws(() => mannWhitney([], [1]), /both samples need values/);
});
