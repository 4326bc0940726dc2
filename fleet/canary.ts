/**
 * Canary analysis: does the canary group's memory grow faster per request than the
 * baseline's? Kayenta judges a canary by comparing the two groups' values of each metric
 * with a Mann–Whitney U test. A rank test needs samples, and a canary is often two pods:
 * one slope per pod would give 2 vs 2 values, whose smallest two-sided p is 1/3 (DESIGN.md,
 * Fleet). So every instance contributes the slopes of several sub-windows of its life
 * (Theil–Sen per request, the analyzer's estimator), a sub-window never crossing a restart.
 * A series fails the canary when the canary's slopes are significantly greater (one-sided,
 * at alpha) AND the Hodges–Lehmann shift exceeds the practical threshold: the budget's
 * maxPerRequest for that series, else the analyzer's own minimum per request — so two
 * healthy groups that differ by noise never fail, however many windows they have.
 * Sub-windows of one process are not independent; the practical threshold is the guard
 * against the optimism that gives the p-value.
 */
import type { CanaryComparison, CanaryResult } from '../common/fleet-format.js';
import { formatP, formatQuantity } from '../common/format-numbers.js';
import type { Budget } from '../analyzer/budget.js';
import { mannWhitney } from '../analyzer/series/mann-whitney.js';
import { theilSen } from '../analyzer/series/theil-sen.js';
import type { FleetData, InstanceSeries } from './fetch-fleet.js';
import type { FleetMetricKey } from './fleet-metrics.js';
import { FLEET_SERIES, segmentPoints } from './judge-instance.js';
import { type InstanceTimeline, instanceTimeline } from './segments.js';

export interface CanaryOptions {
  readonly canarySelector: string;
  readonly baselineSelector: string;
  readonly budget: Budget;
  /** Sub-windows per instance (default 6). */
  readonly windows?: number;
  /** One-sided significance level (default 0.01). */
  readonly alpha?: number;
  readonly limitBytes: number | null;
  /** Warm-up left out after each process start (default DEFAULT_SETTLE_MS). */
  readonly settleMs?: number;
}

/** Fewest points in a sub-window for its slope to count. */
const MIN_WINDOW_POINTS = 6;

/**
 * Growth per request of each sub-window of an instance's life for one series.
 * @example windowSlopes(data, inst, instanceTimeline(data, inst, null), 'cacheEntries', 6) // six slopes in entries/request
 */
export function windowSlopes(
  data: FleetData,
  inst: InstanceSeries,
  timeline: InstanceTimeline,
  key: FleetMetricKey,
  windows: number,
): number[] {
  const values = inst.values.get(key);
  if (!values) return [];
  const total = timeline.segments.reduce((n, s) => n + (s.to - s.settledFrom), 0);
  const out: number[] = [];
  for (const seg of timeline.segments) {
    const k = Math.max(1, Math.round((windows * (seg.to - seg.settledFrom)) / Math.max(1, total)));
    const len = (seg.to - seg.settledFrom) / k;
    for (let w = 0; w < k; w++) {
      const pts = segmentPoints(data, values, timeline, {
        settledFrom: seg.settledFrom + Math.round(w * len),
        to: seg.settledFrom + Math.round((w + 1) * len),
      });
      if (pts.length < MIN_WINDOW_POINTS || pts[pts.length - 1]!.requests === pts[0]!.requests) continue;
      const e = theilSen(
        pts.map((p) => p.requests),
        pts.map((p) => p.value),
        { confidence: 0.95 },
      );
      if (e) out.push(e.estimate);
    }
  }
  return out;
}

/**
 * Compares the canary instances' growth with the baseline's, series by series.
 * @example canaryAnalysis(data, { canarySelector: '{track="canary"}', baselineSelector: '{track="stable"}', budget, limitBytes: null }).pass
 */
export function canaryAnalysis(data: FleetData, o: CanaryOptions): CanaryResult {
  const windows = o.windows ?? 6;
  const alpha = o.alpha ?? 0.01;
  const canary = data.instances.filter((i) => i.group === 'canary');
  const baseline = data.instances.filter((i) => i.group === 'baseline');
  // Segments depend on the instance, not the series: cut each instance's life once.
  const timelines = new Map(
    [...canary, ...baseline].map((i) => [i, instanceTimeline(data, i, o.limitBytes, o.settleMs)] as const),
  );
  const slopes = (group: readonly InstanceSeries[], key: FleetMetricKey) =>
    group.flatMap((i) => windowSlopes(data, i, timelines.get(i)!, key, windows));
  const comparisons: CanaryComparison[] = [];
  for (const spec of FLEET_SERIES) {
    const key = spec.key as FleetMetricKey;
    const c = slopes(canary, key);
    const b = slopes(baseline, key);
    if (c.length < 3 || b.length < 3) continue;
    const test = mannWhitney(c, b, 'greater');
    const threshold = o.budget.series[spec.key]?.maxPerRequest ?? spec.minPerRequest;
    const q = (v: number) => `${formatQuantity(v, spec.unit, spec.noun)}/request`;
    const significant = test.pValue < alpha;
    const large = test.shift > threshold;
    const pass = !(significant && large);
    const cmp = `canary − baseline ${q(test.shift)} (Hodges–Lehmann), P(canary > baseline) ${test.commonLanguage.toFixed(2)}, Mann–Whitney U=${test.u} ${formatP(test.pValue)} one-sided, ${c.length} vs ${b.length} windows`;
    const reason = pass
      ? `${spec.label}: ${cmp}: ${significant ? `significant but within ${q(threshold)}` : 'not significantly greater'}`
      : `${spec.label}: ${cmp}: grows faster on the canary by more than ${q(threshold)}`;
    comparisons.push({
      key: spec.key,
      label: spec.label,
      unit: spec.unit,
      canarySlopes: c,
      baselineSlopes: b,
      test,
      threshold,
      pass,
      reason,
    });
  }
  const failed = comparisons.filter((c) => !c.pass);
  const pass = failed.length === 0 && comparisons.length > 0;
  const headline = !comparisons.length
    ? `Canary not judged: fewer than 3 sub-windows with requests in a group (canary ${canary.length}, baseline ${baseline.length} instance(s))`
    : pass
      ? `Canary passes: no series grows significantly faster per request than on the baseline (${comparisons.length} series compared)`
      : `Canary fails: ${failed.map((c) => c.label).join(', ')} ${failed.length > 1 ? 'grow' : 'grows'} faster per request than on the baseline (significant, and by more than the threshold)`;
  return {
    canarySelector: o.canarySelector,
    baselineSelector: o.baselineSelector,
    canaryInstances: canary.map((i) => i.instance),
    baselineInstances: baseline.map((i) => i.instance),
    windowsPerInstance: windows,
    alpha,
    comparisons,
    pass,
    headline,
  };
}
