/**
 * Growth of one series: Theil–Sen slopes against requests completed and against time,
 * each with Sen's interval, and the Mann–Kendall test, both corrected for the serial
 * correlation of the samples (Hamed–Rao factor from the residuals around the time slope).
 *
 * A series cut into segments (at heap captures, whose pause and RSS step never come back)
 * is fitted with one common slope and an offset per segment: the slopes are those of pairs
 * inside one segment only and S sums over segments, as Hirsch, Slack & Smith's (1982)
 * seasonal Kendall test and slope do with seasons. A step between segments then moves no
 * slope at all.
 */
import type { Estimate, TrendTest } from '../../common/analysis-format.js';
import { mannKendall, varianceInflation } from './mann-kendall.js';
import { maxOf, median } from './median.js';
import { kendallVariance, NO_TIES, tieTerms } from './kendall.js';
import { twoSidedP } from './normal.js';
import { pairwiseSlopes, senFromVariance, senInterval } from './theil-sen.js';

export interface SeriesPoint {
  /** ms since the run's start. */
  readonly t: number;
  /** Requests completed so far. */
  readonly requests: number;
  readonly value: number;
  /** Phase the sample was taken in (for the last-window check). */
  readonly phase?: string;
  /** Segment (0, 1, …, non-decreasing): points of different segments are never paired. */
  readonly segment?: number;
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
  /** Segments fitted with their own offsets (1 when the series is not cut). */
  readonly segments: number;
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
  const groups = segmentRanges(pts);
  const tenth = Math.max(1, Math.floor(n / 10));
  const shape = {
    n,
    ...(points.length > n ? { subsampledFrom: points.length } : {}),
    requestSpan: n ? req[n - 1]! - req[0]! : 0,
    durationMs: n ? pts[n - 1]!.t - pts[0]!.t : 0,
    start: median(y.slice(0, tenth)) ?? NaN,
    end: median(y.slice(n - tenth)) ?? NaN,
    peak: n ? maxOf(y) : NaN,
    segments: groups.length,
  };
  if (groups.length > 1) return { ...shape, ...segmentedTrend(t, req, y, groups, confidence, opts.autocorrelation) };
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
  return { ...shape, perRequest, perSecond, trend };
}

/** [from, to) index ranges of the points' segments, in order (one range when none is set). */
function segmentRanges(pts: readonly SeriesPoint[]): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < pts.length; ) {
    let j = i + 1;
    while (j < pts.length && (pts[j]!.segment ?? 0) === (pts[i]!.segment ?? 0)) j++;
    out.push([i, j]);
    i = j;
  }
  return out;
}

/** Within-segment slopes of y against x, all segments in one array. */
function segmentSlopes(x: readonly number[], y: readonly number[], groups: readonly [number, number][]): Float64Array {
  const parts = groups.map(([a, b]) => pairwiseSlopes(x.slice(a, b), y.slice(a, b)));
  const out = new Float64Array(parts.reduce((m, p) => m + p.length, 0));
  let m = 0;
  for (const p of parts) {
    out.set(p, m);
    m += p.length;
  }
  return out;
}

/**
 * Sen's interval over within-segment slopes: Var(S) is the sum of the segments' variances
 * (the seasonal Kendall slope's interval), inflated for serial correlation.
 */
function segmentedInterval(
  x: readonly number[],
  y: readonly number[],
  groups: readonly [number, number][],
  confidence: number,
  varianceInflation: number,
): Estimate | null {
  const slopes = segmentSlopes(x, y, groups);
  if (!slopes.length) return null;
  const variance = groups.reduce((v, [a, b]) => v + kendallVariance(b - a, tieTerms(x.slice(a, b)), NO_TIES), 0);
  return senFromVariance(slopes, variance * Math.max(1, varianceInflation), confidence);
}

/** Common slope and seasonal Mann–Kendall test of a series cut into segments. */
function segmentedTrend(
  t: readonly number[],
  req: readonly number[],
  y: readonly number[],
  groups: readonly [number, number][],
  confidence: number,
  autocorrelation: boolean | undefined,
): Pick<TrendResult, 'perRequest' | 'perSecond' | 'trend'> {
  const plain = segmentedInterval(t, y, groups, confidence, 1);
  const b = plain?.estimate ?? 0;
  // Residuals around the common slope with each segment's own offset (its median) removed.
  const residuals: number[] = [];
  for (const [a, e] of groups) {
    const r = y.slice(a, e).map((v, i) => v - b * t[a + i]!);
    const off = median(r) ?? 0;
    for (const v of r) residuals.push(v - off);
  }
  const inflation = autocorrelation === false ? 1 : varianceInflation(residuals);
  let s = 0;
  let variance = 0;
  let pairs = 0;
  let tiePairs = 0;
  for (const [a, e] of groups) {
    const g = mannKendall(y.slice(a, e));
    s += g.s;
    variance += g.variance;
    const k = e - a;
    pairs += (k * (k - 1)) / 2;
    tiePairs += tieTerms(y.slice(a, e)).c / 2;
  }
  variance *= inflation;
  const z = variance > 0 ? (s - Math.sign(s)) / Math.sqrt(variance) : 0;
  const tauDen = Math.sqrt(pairs * (pairs - tiePairs));
  return {
    perSecond: segmentedInterval(t, y, groups, confidence, inflation),
    perRequest: segmentedInterval(req, y, groups, confidence, inflation),
    trend: {
      test: 'mann-kendall',
      s,
      variance,
      z,
      pValue: variance > 0 ? twoSidedP(z) : 1,
      tau: tauDen > 0 ? s / tauDen : 0,
      varianceInflation: inflation,
    },
  };
}
