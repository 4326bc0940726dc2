/**
 * Growth of one series: Theil–Sen slopes against requests completed and against time,
 * each with Sen's interval, and the Mann–Kendall test, both corrected for the serial
 * correlation of the samples (Hamed–Rao factor from the residuals around the time slope).
 */
import type { Estimate, TrendTest } from '../../common/analysis-format.js';
import { mannKendall } from './mann-kendall.js';
import { maxOf, median } from './median.js';
import { tieTerms } from './kendall.js';
import { pairwiseSlopes, senInterval } from './theil-sen.js';

export interface SeriesPoint {
  /** ms since the run's start. */
  readonly t: number;
  /** Requests completed so far. */
  readonly requests: number;
  readonly value: number;
}

export interface TrendOptions {
  /** Two-sided confidence of the slope intervals (default 0.95). */
  readonly confidence?: number;
  /**
   * Longest series analysed with all O(n²) pairs (default 3000 ≈ 4.5 M pairs, ~50 ms);
   * longer series are subsampled evenly in time order first.
   */
  readonly maxSamples?: number;
  /** Correct test and intervals for serial correlation (default true). */
  readonly autocorrelation?: boolean;
}

export interface TrendResult {
  readonly n: number;
  readonly subsampledFrom?: number;
  readonly requestSpan: number;
  readonly durationMs: number;
  readonly perRequest: Estimate | null;
  readonly perSecond: Estimate | null;
  readonly trend: TrendTest & { readonly varianceInflation: number };
  /** Median of the first tenth of the samples (at least one). */
  readonly start: number;
  /** Median of the last tenth. */
  readonly end: number;
  readonly peak: number;
}

export const DEFAULT_MAX_SAMPLES = 3000;

/**
 * `max` items picked evenly (first and last always kept), or all when there are fewer.
 * @example evenSubsample([1, 2, 3, 4, 5], 3) // [1, 3, 5]
 */
export function evenSubsample<T>(items: readonly T[], max: number): T[] {
  if (items.length <= max) return [...items];
  if (max < 2) return items.slice(0, max);
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return out;
}

/**
 * Robust growth statistics of a series (points in time order).
 * @example analyzeTrend(points, { confidence: 0.95 }).perRequest // { estimate, low, high, confidence }
 */
export function analyzeTrend(points: readonly SeriesPoint[], opts: TrendOptions = {}): TrendResult {
  const confidence = opts.confidence ?? 0.95;
  const max = opts.maxSamples ?? DEFAULT_MAX_SAMPLES;
  const pts = evenSubsample(points, max);
  const n = pts.length;
  const t = pts.map((p) => p.t / 1000);
  const req = pts.map((p) => p.requests);
  const y = pts.map((p) => p.value);
  // The time slope first: its residuals carry the serial correlation the corrections need.
  const timeSlopes = pairwiseSlopes(t, y);
  const timeTies = tieTerms(t);
  const plainPerSecond = senInterval(timeSlopes, n, timeTies, { confidence });
  const b = plainPerSecond?.estimate ?? 0;
  const residuals = opts.autocorrelation === false ? undefined : y.map((v, i) => v - b * t[i]!);
  const trend = mannKendall(y, residuals ? { residuals } : {});
  const inflate = { confidence, varianceInflation: trend.varianceInflation };
  const perSecond = trend.varianceInflation > 1 ? senInterval(timeSlopes, n, timeTies, inflate) : plainPerSecond;
  // The request slopes reuse the time slopes' n(n−1)/2 array (36 MB at 3,000 samples).
  const perRequest = senInterval(
    pairwiseSlopes(req, y, new Float64Array(timeSlopes.buffer)),
    n,
    tieTerms(req),
    inflate,
  );
  const tenth = Math.max(1, Math.floor(n / 10));
  return {
    n,
    ...(points.length > n ? { subsampledFrom: points.length } : {}),
    requestSpan: n ? req[n - 1]! - req[0]! : 0,
    durationMs: n ? pts[n - 1]!.t - pts[0]!.t : 0,
    perRequest,
    perSecond,
    trend,
    start: median(y.slice(0, tenth)) ?? NaN,
    end: median(y.slice(n - tenth)) ?? NaN,
    peak: n ? maxOf(y) : NaN,
  };
}
