/**
 * The verdicts of one instance: the analyzer's own series judgement (judgeSeries, the one
 * `gate` uses) on every segment of the instance's life (past its warm-up), the worst
 * verdict per series kept; the gate's series budget checks on those; and a projection of
 * the time left before RSS reaches the memory limit at the last segment's growth rate.
 */
import type { SeriesAnalysis, Verdict } from '../common/analysis-format.js';
import type { InstanceJudgement } from '../common/fleet-format.js';
import type { Budget } from '../analyzer/budget.js';
import { seriesBudgetChecks } from '../analyzer/gate.js';
import type { SeriesPoint } from '../analyzer/series/trend.js';
import {
  judgeSeries,
  LONG_WINDOW_THRESHOLDS,
  overallVerdict,
  SERIES_SPECS,
  type SeriesSpec,
  type VerdictOptions,
} from '../analyzer/verdicts.js';
import type { FleetData, InstanceSeries } from './fetch-fleet.js';
import type { FleetMetricKey } from './fleet-metrics.js';
import { type IndexSegment, type InstanceTimeline, instanceTimeline } from './segments.js';

/** The analyzer's series that Prometheus can carry (GC-settled heap needs a forced GC: not in a fleet). */
export const FLEET_SERIES: readonly SeriesSpec[] = SERIES_SPECS.filter((s) => s.key !== 'heapUsedSettledBytes');

export interface JudgeOptions extends VerdictOptions {
  readonly budget: Budget;
  /** Memory limit for projections and OOM detection; null: from container_spec_memory_limit_bytes. */
  readonly limitBytes: number | null;
  /** Warm-up left out after each process start (default DEFAULT_SETTLE_MS). */
  readonly settleMs?: number;
}

const RANK: Readonly<Record<Verdict, number>> = { INSUFFICIENT_DATA: 0, STABLE: 1, GROWING: 2, LEAK: 3 };
export const verdictRank = (v: Verdict): number => RANK[v];

/**
 * Points of one series within one segment: time since the range's start, cumulative
 * requests, value (grid points where either is missing are left out).
 */
export function segmentPoints(
  data: FleetData,
  values: Float64Array,
  timeline: InstanceTimeline,
  seg: Pick<IndexSegment, 'settledFrom' | 'to'>,
): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (let i = seg.settledFrom; i < seg.to; i++) {
    const v = values[i]!;
    const r = timeline.requests[i]!;
    if (Number.isFinite(v) && Number.isFinite(r)) out.push({ t: i * data.stepMs, requests: r, value: v });
  }
  return out;
}

/** At most `max` [ms, value] pairs of a grid series, evenly spaced, for a chart. */
function chartPoints(data: FleetData, values: Float64Array | undefined, max = 120): [number, number][] {
  if (!values) return [];
  const every = Math.max(1, Math.ceil(values.length / max));
  const out: [number, number][] = [];
  for (let i = 0; i < values.length; i += every) {
    // The block's largest value, so a short peak before an OOM kill still shows.
    let best = NaN;
    for (let j = i; j < Math.min(values.length, i + every); j++)
      if (Number.isFinite(values[j]!) && !(values[j]! <= best)) best = values[j]!;
    if (Number.isFinite(best)) out.push([i * data.stepMs, best]);
  }
  return out;
}

/**
 * V8 heap used and external memory, as Prometheus samples them, include garbage that the
 * next full GC frees, and a young process's old space fills for minutes before its first
 * one: without GC-settled samples (the run analyzer forces a GC for those) their growth is
 * a leak only if RSS, what the OOM killer acts on, shows it too. So a LEAK of either is
 * reported as GROWING when RSS was judged and is no LEAK (the analyzer's
 * reconcileHeapSeries does the same with its settled heap).
 */
export function reconcileFleetSeries(series: readonly SeriesAnalysis[]): SeriesAnalysis[] {
  const rss = series.find((s) => s.key === 'rssBytes');
  if (!rss || rss.verdict === 'INSUFFICIENT_DATA' || rss.verdict === 'LEAK') return [...series];
  return series.map((s) =>
    (s.key === 'heapUsedBytes' || s.key === 'externalBytes') && s.verdict === 'LEAK'
      ? {
          ...s,
          verdict: 'GROWING',
          reason: `${s.reason}; not counted as a leak: RSS is ${rss.verdict.toLowerCase()} (unsettled heap holds garbage until a full GC)`,
        }
      : s,
  );
}

/**
 * Judges one instance of the fleet.
 * @example judgeInstance(data, data.instances[0], { budget: DEFAULT_BUDGET, limitBytes: null }).verdict
 */
export function judgeInstance(data: FleetData, inst: InstanceSeries, o: JudgeOptions): InstanceJudgement {
  const timeline = instanceTimeline(data, inst, o.limitBytes, o.settleMs);
  // Hours of production: per-second thresholds for long windows (LONG_WINDOW_THRESHOLDS).
  const opts: VerdictOptions = {
    ...o,
    confidence: o.confidence ?? o.budget.confidence,
    thresholds: { ...LONG_WINDOW_THRESHOLDS, ...o.thresholds },
  };
  const series: SeriesAnalysis[] = [];
  let lastRss: SeriesAnalysis | null = null;
  for (const spec of FLEET_SERIES) {
    const values = inst.values.get(spec.key as FleetMetricKey);
    if (!values) continue;
    let worst: SeriesAnalysis | null = null;
    timeline.segments.forEach((seg, k) => {
      const pts = segmentPoints(data, values, timeline, seg);
      if (!pts.length) return;
      const s = judgeSeries(spec, pts, [`segment ${k + 1} of ${timeline.segments.length}`], opts);
      // The projection uses the latest segment with a rate (a process still warming up has none yet).
      if (spec.key === 'rssBytes' && s.perSecond) lastRss = s;
      if (!worst || RANK[s.verdict] > RANK[worst.verdict] || (s.verdict === worst.verdict && s.n > worst.n)) worst = s;
    });
    if (worst) series.push(worst);
  }
  const judged = reconcileFleetSeries(series);
  const overall = overallVerdict(judged, null, null);
  const failures = seriesBudgetChecks(judged, o.budget, opts.confidence!)
    .filter((c) => c.status === 'fail')
    .map((c) => `${c.id}: expected ${c.expected}, got ${c.actual}`);
  const restarts = timeline.segments.filter((s) => s.end === 'restart').length;
  const rssValues = inst.values.get('rssBytes');
  let lastRssBytes: number | null = null;
  if (rssValues)
    for (let i = rssValues.length - 1; i >= 0; i--)
      if (Number.isFinite(rssValues[i]!)) {
        lastRssBytes = rssValues[i]!;
        break;
      }
  const perSecond = (lastRss as SeriesAnalysis | null)?.perSecond ?? null;
  const rssPerHour = perSecond
    ? { ...perSecond, estimate: perSecond.estimate * 3600, low: perSecond.low * 3600, high: perSecond.high * 3600 }
    : null;
  const limit = timeline.limitBytes;
  const hoursToLimit =
    rssPerHour && limit !== null && lastRssBytes !== null && rssPerHour.estimate > 0
      ? Math.max(0, (limit - lastRssBytes) / rssPerHour.estimate)
      : null;
  return {
    instance: inst.instance,
    ...(inst.group ? { group: inst.group } : {}),
    verdict: overall.verdict,
    headline: overall.headline,
    series: judged,
    segments: timeline.segments.map(({ from: _f, to: _t, settledFrom: _s, ...s }) => s),
    restarts,
    oomKills: timeline.segments.filter((s) => s.oomKilled).length,
    failures,
    pass: failures.length === 0,
    projection: { lastRssBytes, rssPerHour, limitBytes: limit, hoursToLimit },
    rssChart: chartPoints(data, rssValues),
  };
}
