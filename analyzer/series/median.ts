/** Medians and a distribution-free confidence interval for a median. */
import type { Estimate } from '../../common/analysis-format.js';
import { normalQuantile } from './normal.js';

/**
 * Median of the values; null when there are none.
 * @example median([3, 1, 2]) // 2
 */
export function median(values: readonly number[]): number | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Median with the order-statistic interval (ranks n/2 ∓ z·√n/2, the normal approximation
 * of the binomial), which needs no assumption on the distribution; null when empty.
 * @example medianEstimate([1, 2, 3, 4, 5, 6, 7, 8, 9], 0.95) // { estimate: 5, low: 2, high: 8, … }
 */
export function medianEstimate(values: readonly number[], confidence: number): Estimate | null {
  if (!values.length) return null;
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const h = (normalQuantile(1 - (1 - confidence) / 2) * Math.sqrt(n)) / 2;
  const lo = Math.max(0, Math.floor(n / 2 - h));
  const hi = Math.min(n - 1, Math.ceil(n / 2 + h) - 1);
  return { estimate: median(s)!, low: s[lo]!, high: s[hi]!, confidence };
}

/**
 * The largest value (-Infinity when empty), by a loop: `Math.max(...values)` passes every
 * value as an argument and overflows the stack past ~150,000 of them (a long soak's samples).
 */
export function maxOf(values: ArrayLike<number>): number {
  let m = -Infinity;
  for (let i = 0; i < values.length; i++) if (values[i]! > m) m = values[i]!;
  return m;
}
