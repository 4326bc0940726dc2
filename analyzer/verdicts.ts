/**
 * Verdicts per series and for the whole run. A LEAK is a statistical statement over the
 * steady phases: the Mann–Kendall trend is significant (corrected for serial correlation)
 * AND the lower confidence bound of the Theil–Sen growth per request clears a practical
 * threshold, both in unit/request and relative to the series' level. Both thresholds are
 * needed: bytes/request alone calls a patched server's allocator warm-up creep a leak
 * (a few MB on a 150 MB RSS over a short run is hundreds of B/request), relative growth
 * alone calls a counter going from 1 to 2 a leak.
 */
import type {
  Culprit,
  OverallVerdict,
  SeriesAnalysis,
  SeriesKey,
  SeriesThreshold,
  SeriesUnit,
  ThreadAnalysis,
  Verdict,
} from '../common/analysis-format.js';
import type { Sample } from '../common/run-format.js';
import { formatCount, formatP, formatPercent, formatQuantity } from '../common/format-numbers.js';
import { analyzeTrend, DEFAULT_MAX_SAMPLES, type SeriesPoint } from './series/trend.js';
import { maxOf } from './series/median.js';
import { withoutUndefined } from '../common/objects.js';

export interface SeriesSpec {
  readonly key: SeriesKey;
  readonly label: string;
  readonly unit: SeriesUnit;
  /** Word after a count ("entries"); empty for bytes. */
  readonly noun: string;
  readonly settledOnly: boolean;
  readonly pick: (s: Sample) => number | undefined;
  readonly minPerRequest: number;
  readonly minRelativeGrowth: number;
}

const heapUnsettled = (s: Sample) => (s.gcSettled ? undefined : s.heapUsedBytes);

/**
 * The series judged, in the order reports list them, with their default practical
 * thresholds. Why these numbers: the leaks reproduced here grow by hundreds of bytes per
 * request (an executor-cache key string plus its Map entry per shuffled request);
 * GC-settled heap is the cleanest evidence, so it gets the lowest thresholds; RSS and
 * unsettled heap move with allocator and old-space garbage, so they need 10 % growth over
 * the steady window; counters need one unit per thousand requests and 25–50 % growth.
 */
export const SERIES_SPECS: readonly SeriesSpec[] = [
  {
    key: 'rssBytes',
    label: 'RSS',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.rssBytes,
    minPerRequest: 256,
    minRelativeGrowth: 0.1,
  },
  {
    key: 'heapUsedSettledBytes',
    label: 'V8 heap used (GC-settled)',
    unit: 'bytes',
    noun: '',
    settledOnly: true,
    pick: (s) => (s.gcSettled ? s.heapUsedBytes : undefined),
    minPerRequest: 64,
    minRelativeGrowth: 0.05,
  },
  {
    key: 'heapUsedBytes',
    label: 'V8 heap used',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: heapUnsettled,
    minPerRequest: 128,
    minRelativeGrowth: 0.1,
  },
  {
    key: 'externalBytes',
    label: 'external memory',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.externalBytes,
    minPerRequest: 256,
    minRelativeGrowth: 0.1,
  },
  {
    key: 'cacheEntries',
    label: 'executor-cache entries',
    unit: 'count',
    noun: 'entries',
    settledOnly: false,
    pick: (s) => s.cacheEntries,
    minPerRequest: 0.001,
    minRelativeGrowth: 0.5,
  },
  {
    key: 'cacheKeyBytes',
    label: 'executor-cache key bytes',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.cacheKeyBytes,
    minPerRequest: 16,
    minRelativeGrowth: 0.5,
  },
  {
    key: 'threads',
    label: 'threads',
    unit: 'count',
    noun: 'threads',
    settledOnly: false,
    pick: (s) => s.threads,
    minPerRequest: 0.001,
    minRelativeGrowth: 0.25,
  },
  {
    key: 'handlerThreads',
    label: 'handler threads',
    unit: 'count',
    noun: 'threads',
    settledOnly: false,
    pick: (s) => s.handlerThreads,
    minPerRequest: 0.001,
    minRelativeGrowth: 0.25,
  },
  {
    key: 'openFds',
    label: 'open fds',
    unit: 'count',
    noun: 'fds',
    settledOnly: false,
    pick: (s) => s.openFds,
    minPerRequest: 0.001,
    minRelativeGrowth: 0.25,
  },
];

export interface VerdictOptions {
  /** Confidence of the slope intervals (default 0.95). */
  readonly confidence?: number;
  /**
   * Significance level of the trend test (default 0.01: about nine series are tested per
   * run and any LEAK fails it, so 0.05 each would compound to a ~35 % false-alarm rate
   * before the practical thresholds; 0.01 keeps it under ~9 %, and the thresholds cut it further).
   */
  readonly alpha?: number;
  /** Fewer samples than this is INSUFFICIENT_DATA (default 10). */
  readonly minSamples?: number;
  /** Fewer requests completed over the window is INSUFFICIENT_DATA (default 100). */
  readonly minRequests?: number;
  /** Series longer than this are subsampled evenly (default 3000). */
  readonly maxSamples?: number;
  /** Per-series overrides of the practical thresholds. */
  readonly thresholds?: Partial<
    Record<SeriesKey, Partial<Pick<SeriesThreshold, 'minPerRequest' | 'minRelativeGrowth'>>>
  >;
}

export const VERDICT_DEFAULTS = Object.freeze({
  confidence: 0.95,
  alpha: 0.01,
  minSamples: 10,
  minRequests: 100,
  maxSamples: DEFAULT_MAX_SAMPLES,
});

/** Points of one series from the samples of the given phases (time order kept). */
export function seriesPoints(samples: readonly Sample[], spec: SeriesSpec, phases: ReadonlySet<string>): SeriesPoint[] {
  const out: SeriesPoint[] = [];
  for (const s of samples) {
    if (!phases.has(s.phase)) continue;
    const v = spec.pick(s);
    if (typeof v === 'number' && Number.isFinite(v)) out.push({ t: s.t, requests: s.requests, value: v });
  }
  return out;
}

/**
 * Statistics and verdict of one series over the given points.
 * @example judgeSeries(SERIES_SPECS[0], seriesPoints(run.samples, SERIES_SPECS[0], steady), ['steady']).verdict
 */
export function judgeSeries(
  spec: SeriesSpec,
  points: readonly SeriesPoint[],
  phases: readonly string[],
  opts: VerdictOptions = {},
): SeriesAnalysis {
  const o = { ...VERDICT_DEFAULTS, ...withoutUndefined(opts) };
  const override = opts.thresholds?.[spec.key] ?? {};
  const threshold: SeriesThreshold = {
    alpha: o.alpha,
    minPerRequest: override.minPerRequest ?? spec.minPerRequest,
    minRelativeGrowth: override.minRelativeGrowth ?? spec.minRelativeGrowth,
  };
  const base = { key: spec.key, label: spec.label, unit: spec.unit, settledOnly: spec.settledOnly, phases, threshold };
  const q = (v: number) => formatQuantity(v, spec.unit, spec.noun);
  const plural = /[a-z]s$/.test(spec.label);
  const grows = plural ? 'grow' : 'grows';
  if (points.length < Math.max(3, o.minSamples)) {
    const last = points[points.length - 1];
    return {
      ...base,
      n: points.length,
      requestSpan: points.length ? last!.requests - points[0]!.requests : 0,
      durationMs: points.length ? last!.t - points[0]!.t : 0,
      perRequest: null,
      perSecond: null,
      trend: null,
      start: points[0]?.value ?? null,
      end: last?.value ?? null,
      peak: points.length ? maxOf(points.map((p) => p.value)) : null,
      relativeGrowth: null,
      verdict: 'INSUFFICIENT_DATA',
      reason: phases.length
        ? `${spec.label}: only ${points.length} sample(s) in the steady phases (need ${o.minSamples})`
        : `${spec.label}: no steady phase to judge growth over`,
    };
  }
  const r = analyzeTrend(points, { confidence: o.confidence, maxSamples: o.maxSamples });
  const levelBase = Math.max(Math.abs(r.start), 1);
  const growthOf = (perReq: number) => (perReq * r.requestSpan) / levelBase;
  const relativeGrowth = r.perRequest
    ? growthOf(r.perRequest.estimate)
    : r.perSecond
      ? (r.perSecond.estimate * r.durationMs) / 1000 / levelBase
      : null;
  const common = {
    ...base,
    n: r.n,
    ...(r.subsampledFrom !== undefined ? { subsampledFrom: r.subsampledFrom } : {}),
    requestSpan: r.requestSpan,
    durationMs: r.durationMs,
    perRequest: r.perRequest,
    perSecond: r.perSecond,
    trend: r.trend,
    start: r.start,
    end: r.end,
    peak: r.peak,
    relativeGrowth,
  };
  if (r.requestSpan < o.minRequests || !r.perRequest) {
    return {
      ...common,
      verdict: 'INSUFFICIENT_DATA',
      reason: `${spec.label}: only ${r.requestSpan} request(s) completed over the steady phases (need ${o.minRequests})`,
    };
  }
  const pr = r.perRequest;
  const sigUp = r.trend.pValue < o.alpha && r.trend.s > 0;
  const practical = (v: number) => v > threshold.minPerRequest && growthOf(v) >= threshold.minRelativeGrowth;
  const rate = `${q(pr.estimate)}/request ±${q((pr.high - pr.low) / 2)} (${formatPercent(o.confidence)} CI)`;
  const mk = `Mann-Kendall ${formatP(r.trend.pValue)}`;
  const bar = `leak threshold: > ${q(threshold.minPerRequest)}/request and ≥ ${formatPercent(threshold.minRelativeGrowth)} growth`;
  let verdict: Verdict;
  let reason: string;
  if (sigUp && practical(pr.low)) {
    verdict = 'LEAK';
    reason = `${spec.label} ${grows} ${rate}, ${mk}, +${formatPercent(relativeGrowth ?? 0)} over ${formatCount(r.requestSpan)} requests`;
  } else if (sigUp) {
    verdict = 'GROWING';
    reason = `${spec.label} ${grows} ${rate}, ${mk}: significant but below the ${bar}`;
  } else if (pr.estimate > 0 && practical(pr.estimate)) {
    verdict = 'GROWING';
    reason = `${spec.label} ${grows} ${rate}, ${mk}: not significant`;
  } else {
    verdict = 'STABLE';
    reason = `${spec.label} ${plural ? 'are' : 'is'} stable: ${rate}, ${mk}`;
  }
  return { ...common, verdict, reason };
}

/**
 * Unsettled heap holds old-space garbage between full GCs, so its growth is no leak
 * evidence when GC-settled samples of the same heap were judged and found no leak.
 */
export function reconcileHeapSeries(series: readonly SeriesAnalysis[]): SeriesAnalysis[] {
  const settled = series.find((s) => s.key === 'heapUsedSettledBytes');
  if (!settled || settled.verdict === 'INSUFFICIENT_DATA' || settled.verdict === 'LEAK') return [...series];
  return series.map((s) =>
    s.key === 'heapUsedBytes' && s.verdict === 'LEAK'
      ? {
          ...s,
          verdict: 'GROWING',
          reason: `${s.reason}; not counted as a leak: the GC-settled heap is ${settled.verdict.toLowerCase()} (old-space garbage between full GCs)`,
        }
      : s,
  );
}

/**
 * The run's verdict and headline from its series, threads and culprit.
 * @example overallVerdict(series, threads, culprit).headline
 */
export function overallVerdict(
  series: readonly SeriesAnalysis[],
  threads: ThreadAnalysis | null,
  culprit: Culprit | null,
): OverallVerdict {
  const leaking = series.filter((s) => s.verdict === 'LEAK');
  const threadProblem = threads !== null && (threads.bounded === false || threads.cameBackDown === false);
  const judged = series.filter((s) => s.verdict !== 'INSUFFICIENT_DATA');
  const verdict: Verdict =
    leaking.length || threadProblem
      ? 'LEAK'
      : judged.some((s) => s.verdict === 'GROWING')
        ? 'GROWING'
        : judged.length || threads
          ? 'STABLE'
          : 'INSUFFICIENT_DATA';
  const parts: string[] = [];
  // Lead with the series that grew most for its size: in a run with both leaks the cache
  // growing 30× says more than RSS growing 60 %.
  const lead = [...leaking].sort((a, b) => (b.relativeGrowth ?? 0) - (a.relativeGrowth ?? 0))[0];
  if (lead) parts.push(lead.reason);
  const others = leaking.filter((s) => s !== lead).map((s) => s.label);
  if (others.length) parts.push(`also leaking: ${others.join(', ')}`);
  if (culprit && verdict === 'LEAK') {
    const share =
      culprit.growthShare !== null ? ` (${formatPercent(Math.min(1, culprit.growthShare))} of the heap growth)` : '';
    parts.push(
      `${culprit.className} held by ${culprit.heldBy} retains ${formatQuantity(culprit.retainedSize, 'bytes')}${share}`,
    );
  }
  if (threadProblem) parts.push(threads!.reason);
  let headline: string;
  if (verdict === 'LEAK') headline = `Leak: ${parts.join('; ')}`;
  else if (verdict === 'GROWING')
    headline = `No leak proven, but growing: ${series.find((s) => s.verdict === 'GROWING')!.reason}`;
  else if (verdict === 'STABLE')
    headline = `No leak: ${(judged.find((s) => s.key === 'rssBytes') ?? judged[0])?.reason ?? threads!.reason}`;
  else headline = 'Not enough data for a verdict: too few steady samples or requests';
  // Young objects alive at the final snapshot exist in every run; without growth they are
  // not a culprit of anything, so a stable run names none.
  return {
    verdict,
    headline,
    leaking: leaking.map((s) => s.key),
    threadProblem,
    culprit: verdict === 'LEAK' || verdict === 'GROWING' ? culprit : null,
  };
}
