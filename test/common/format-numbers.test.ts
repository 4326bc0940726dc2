import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatBytes,
  formatCount,
  formatNumber,
  formatP,
  formatPercent,
  formatQuantity,
} from '../../common/format-numbers.js';

test('bytes are IEC units everywhere: 1 KiB is 1024 B, three significant digits', () => {
  const cases: [number, string][] = [
    [0, '0 B'],
    [412.3, '412 B'],
    [1000, '1000 B'],
    [1023, '1023 B'],
    [1024, '1 KiB'],
    [1536, '1.5 KiB'],
    [10 * 1024 + 300, '10.3 KiB'],
    [512 * 1024, '512 KiB'],
    [1_000_000, '977 KiB'],
    [1048576, '1 MiB'],
    [24.1 * 1048576, '24.1 MiB'],
    [1.234 * 2 ** 30, '1.23 GiB'],
    [3 * 2 ** 40, '3 TiB'],
    [-2048, '-2 KiB'],
  ];
  for (const [n, s] of cases) assert.equal(formatBytes(n), s, String(n));
  assert.equal(formatBytes(2048, true), '+2 KiB');
  assert.equal(formatBytes(0, true), '0 B');
  assert.equal(formatBytes(Number.NaN), 'NaN');
});

test('quantities, counts, percents and p-values, one way each', () => {
  assert.equal(formatNumber(0.98765), '0.988');
  assert.equal(formatNumber(12.34), '12.3');
  assert.equal(formatNumber(-0.5), '-0.5');
  assert.equal(formatNumber(12345.6), '12,346');
  assert.equal(formatQuantity(412.3, 'bytes'), '412 B');
  assert.equal(formatQuantity(0.98, 'count', 'entries'), '0.98 entries');
  assert.equal(formatQuantity(2, 'count'), '2');
  assert.equal(formatCount(1234567), '1,234,567');
  assert.equal(formatCount(5, true), '+5');
  assert.equal(formatCount(-5, true), '-5');
  assert.equal(formatPercent(0.95), '95%');
  assert.equal(formatPercent(0.0351), '3.5%');
  assert.equal(formatPercent(0.975), '97.5%');
  assert.equal(formatPercent(0), '0%');
  assert.equal(formatP(0.00002), 'p<0.001');
  assert.equal(formatP(0.0042), 'p=0.004');
  assert.equal(formatP(0.84), 'p=0.84');
});
