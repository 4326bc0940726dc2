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
  CaptureMark,
  Culprit,
  Estimate,
  LastWindow,
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
import { describeBackingStores } from './heap/backing-stores.js';

export interface SeriesSpec {
  readonly key: SeriesKey;
  readonly label: string;
  readonly unit: SeriesUnit;
  /** Word after a count ("entries"); empty for bytes. */
  readonly noun: string;
  readonly settledOnly: boolean;
  readonly pick: (s: Sample) => number | undefined;
  /** LEAK: the CI lower bound per request above this… */
  readonly minPerRequest: number;
  /** …and per second above this (time-driven drift is not a leak)… */
  readonly minPerSecond: number;
  /** …and the growth over the window at least this fraction of the start level. */
  readonly minRelativeGrowth: number;
  /** STABLE (equivalence): the CI upper bound per request below this… */
  readonly negligiblePerRequest: number;
  /** …and per second below this. */
  readonly negligiblePerSecond: number;
}

const heapUnsettled = (s: Sample) => (s.gcSettled ? undefined : s.heapUsedBytes);
const KiB = 1024;

/**
 * The series judged, in the order reports list them, with their default practical
 * thresholds for a leakscope run's short steady window (docs/verdicts.md). Why these
 * numbers: the leaks reproduced here grow by hundreds of bytes per request (an
 * executor-cache key string plus its Map entry per shuffled request); GC-settled heap is
 * the cleanest evidence, so it gets the lowest thresholds; RSS and unsettled heap move with
 * allocator and old-space garbage, so they need 10 % growth over the steady window;
 * counters need one unit per thousand requests and 25–50 % growth. Per second, a LEAK must
 * also outgrow the drift a healthy server shows with time alone over a short window (RSS of
 * the patched reference server drifts by up to ~1–2 MiB/s while its isolates and allocator
 * arenas settle, whatever the rate), so a light load that spreads that drift over few
 * requests is no leak. The negligible margins (STABLE) are half the per-request minimums
 * (RSS', the noisiest series, 3/4) and a quarter of the per-second ones (RSS 1/16).
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
    minPerSecond: 2048 * KiB,
    minRelativeGrowth: 0.1,
    negligiblePerRequest: 192,
    negligiblePerSecond: 64 * KiB,
  },
  {
    key: 'heapUsedSettledBytes',
    label: 'V8 heap used (GC-settled)',
    unit: 'bytes',
    noun: '',
    settledOnly: true,
    pick: (s) => (s.gcSettled ? (s.heapSettledBytes ?? s.heapUsedBytes) : undefined),
    minPerRequest: 64,
    minPerSecond: 16 * KiB,
    minRelativeGrowth: 0.05,
    negligiblePerRequest: 32,
    negligiblePerSecond: 4 * KiB,
  },
  {
    key: 'heapUsedBytes',
    label: 'V8 heap used',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: heapUnsettled,
    minPerRequest: 128,
    minPerSecond: 32 * KiB,
    minRelativeGrowth: 0.1,
    negligiblePerRequest: 64,
    negligiblePerSecond: 8 * KiB,
  },
  {
    key: 'externalBytes',
    label: 'external memory',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.externalBytes,
    minPerRequest: 256,
    minPerSecond: 64 * KiB,
    minRelativeGrowth: 0.1,
    negligiblePerRequest: 128,
    negligiblePerSecond: 16 * KiB,
  },
  {
    key: 'arrayBuffersBytes',
    label: 'ArrayBuffer memory',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.arrayBuffersBytes,
    minPerRequest: 256,
    minPerSecond: 64 * KiB,
    minRelativeGrowth: 0.1,
    negligiblePerRequest: 128,
    negligiblePerSecond: 16 * KiB,
  },
  {
    key: 'cacheEntries',
    label: 'executor-cache entries',
    unit: 'count',
    noun: 'entries',
    settledOnly: false,
    pick: (s) => s.cacheEntries,
    minPerRequest: 0.001,
    minPerSecond: 0.05,
    minRelativeGrowth: 0.5,
    negligiblePerRequest: 0.0005,
    negligiblePerSecond: 0.01,
  },
  {
    key: 'cacheKeyBytes',
    label: 'executor-cache key bytes',
    unit: 'bytes',
    noun: '',
    settledOnly: false,
    pick: (s) => s.cacheKeyBytes,
    minPerRequest: 16,
    minPerSecond: 4 * KiB,
    minRelativeGrowth: 0.5,
    negligiblePerRequest: 8,
    negligiblePerSecond: 1 * KiB,
  },
  {
    key: 'threads',
    label: 'threads',
    unit: 'count',
    noun: 'threads',
    settledOnly: false,
    pick: (s) => s.threads,
    minPerRequest: 0.001,
    minPerSecond: 0.05,
    minRelativeGrowth: 0.25,
    negligiblePerRequest: 0.0005,
    negligiblePerSecond: 0.01,
  },
  {
    key: 'handlerThreads',
    label: 'handler threads',
    unit: 'count',
    noun: 'threads',
    settledOnly: false,
    pick: (s) => s.handlerThreads,
    minPerRequest: 0.001,
    minPerSecond: 0.05,
    minRelativeGrowth: 0.25,
    negligiblePerRequest: 0.0005,
    negligiblePerSecond: 0.01,
  },
  {
    key: 'openFds',
    label: 'open fds',
    unit: 'count',
    noun: 'fds',
    settledOnly: false,
    pick: (s) => s.openFds,
    minPerRequest: 0.001,
    minPerSecond: 0.05,
    minRelativeGrowth: 0.25,
    negligiblePerRequest: 0.0005,
    negligiblePerSecond: 0.01,
  },
];

/**
 * Per-second thresholds for windows of hours (fleet mode): the short-window drift
 * allowances above would hide a production leak (60 KiB/s of RSS is 5 GiB a day), while
 * warm-up drift is a small part of a long window. Per-request thresholds stay the same.
 */
export const LONG_WINDOW_THRESHOLDS: Readonly<Partial<Record<SeriesKey, ThresholdOverride>>> = Object.freeze({
  rssBytes: { minPerSecond: 8 * KiB, negligiblePerSecond: 4 * KiB },
  heapUsedSettledBytes: { minPerSecond: 2 * KiB, negligiblePerSecond: 1 * KiB },
  heapUsedBytes: { minPerSecond: 4 * KiB, negligiblePerSecond: 2 * KiB },
  externalBytes: { minPerSecond: 8 * KiB, negligiblePerSecond: 4 * KiB },
  arrayBuffersBytes: { minPerSecond: 8 * KiB, negligiblePerSecond: 4 * KiB },
  cacheEntries: { minPerSecond: 0.005, negligiblePerSecond: 0.001 },
  cacheKeyBytes: { minPerSecond: 256, negligiblePerSecond: 64 },
  threads: { minPerSecond: 0.005, negligiblePerSecond: 0.001 },
  handlerThreads: { minPerSecond: 0.005, negligiblePerSecond: 0.001 },
  openFds: { minPerSecond: 0.005, negligiblePerSecond: 0.001 },
});

type ThresholdOverride = Partial<Omit<SeriesThreshold, 'alpha'>>;

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
  /**
   * Requests sent in the phases the series is fitted over: the count a reason states
   * ("over N requests"). Default: the span of the fitted samples.
   */
  readonly requestsSent?: number;
  /** Per-series overrides of the practical thresholds and equivalence margins. */
  readonly thresholds?: Partial<Record<SeriesKey, ThresholdOverride>>;
}

export const VERDICT_DEFAULTS = Object.freeze({
  confidence: 0.95,
  alpha: 0.01,
  minSamples: 10,
  minRequests: 100,
  maxSamples: DEFAULT_MAX_SAMPLES,
});

/**
 * Points of one series from the samples of the given phases (time order kept), each in
 * the segment after the captures that began before it: a capture's pause and RSS step
 * then fall between segments, which the fit never pairs.
 */
export function seriesPoints(
  samples: readonly Sample[],
  spec: SeriesSpec,
  phases: ReadonlySet<string>,
  captures: readonly CaptureMark[] = [],
): SeriesPoint[] {
  const starts = captures.map((c) => c.tMs).sort((a, b) => a - b);
  const out: SeriesPoint[] = [];
  for (const s of samples) {
    if (!phases.has(s.phase)) continue;
    const v = spec.pick(s);
    if (typeof v !== 'number' || !Number.isFinite(v)) continue;
    let segment = 0;
    while (segment < starts.length && starts[segment]! < s.t) segment++;
    out.push({ t: s.t, requests: s.requests, value: v, phase: s.phase, ...(segment ? { segment } : {}) });
  }
  return out;
}

/** A series' thresholds: the spec's defaults with the options' overrides. */
export function seriesThreshold(spec: SeriesSpec, opts: VerdictOptions = {}): SeriesThreshold {
  const o = opts.thresholds?.[spec.key] ?? {};
  return {
    alpha: opts.alpha ?? VERDICT_DEFAULTS.alpha,
    minPerRequest: o.minPerRequest ?? spec.minPerRequest,
    minPerSecond: o.minPerSecond ?? spec.minPerSecond,
    minRelativeGrowth: o.minRelativeGrowth ?? spec.minRelativeGrowth,
    negligiblePerRequest: o.negligiblePerRequest ?? spec.negligiblePerRequest,
    negligiblePerSecond: o.negligiblePerSecond ?? spec.negligiblePerSecond,
  };
}

/**
 * How many times longer a steady window would have to be for an interval of half-width
 * `half` around `estimate` to clear `bound` (a slope's interval narrows about as the
 * window's length to the power 1.5 at a fixed sampling rate); null when the estimate sits
 * on the bound.
 */
function lengthFactor(estimate: number, half: number, bound: number): number | null {
  const room = Math.abs(estimate - bound);
  if (!(room > 0) || !(half > 0)) return null;
  return Math.max(1, (half / room) ** (2 / 3));
}

/** The window alone: LEAK / STABLE / GROWING of its two intervals (no relative-growth test). */
function windowVerdict(pr: Estimate | null, ps: Estimate | null, th: SeriesThreshold, sigUp: boolean): Verdict {
  if (!pr || !ps) return 'INSUFFICIENT_DATA';
  if (pr.high < th.negligiblePerRequest || ps.high < th.negligiblePerSecond) return 'STABLE';
  if (sigUp && pr.low > th.minPerRequest && ps.low > th.minPerSecond) return 'LEAK';
  return 'GROWING';
}

/**
 * The last steady window: the last phase when the points span several, else the last half
 * of the points (by time).
 */
function lastWindowPoints(points: readonly SeriesPoint[]): { label: string; points: SeriesPoint[] } {
  const last = points[points.length - 1]!;
  const first = points[0]!;
  if (last.phase !== undefined && first.phase !== last.phase)
    return { label: last.phase, points: points.filter((p) => p.phase === last.phase) };
  const mid = (first.t + last.t) / 2;
  return {
    label: `last half${last.phase !== undefined ? ` of ${last.phase}` : ''}`,
    points: points.filter((p) => p.t >= mid),
  };
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
  const threshold = seriesThreshold(spec, opts);
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
  const trendOpts = { confidence: o.confidence, maxSamples: o.maxSamples };
  const r = analyzeTrend(points, trendOpts);
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
    ...(r.segments > 1 ? { segments: r.segments } : {}),
  };
  if (r.requestSpan < o.minRequests || !r.perRequest || !r.perSecond) {
    return {
      ...common,
      verdict: 'INSUFFICIENT_DATA',
      reason: `${spec.label}: only ${r.requestSpan} request(s) completed over the steady phases (need ${o.minRequests})`,
    };
  }
  const pr = r.perRequest;
  const ps = r.perSecond;
  const sigUp = r.trend.pValue < o.alpha && r.trend.s > 0;
  const rate = `${q(pr.estimate)}/request ±${q((pr.high - pr.low) / 2)} (${formatPercent(o.confidence)} CI)`;
  const perSec = `${q(ps.estimate)}/s`;
  const mk = `Mann-Kendall ${formatP(r.trend.pValue)}`;
  const steps = r.segments > 1 ? `, fitted across ${r.segments - 1} heap capture(s)` : '';
  const bar = `leak threshold: > ${q(threshold.minPerRequest)}/request, > ${q(threshold.minPerSecond)}/s and ≥ ${formatPercent(threshold.minRelativeGrowth)} growth`;
  const margin = `negligible: < ${q(threshold.negligiblePerRequest)}/request or < ${q(threshold.negligiblePerSecond)}/s`;
  const large = pr.low > threshold.minPerRequest && ps.low > threshold.minPerSecond;
  // Large on both scales is a leak; negligible on either is stable: per request, the bars are
  // max(minimum, minimum per second ÷ rate) and max(margin, margin per second ÷ rate), so a
  // light load that spreads drift with time over few requests moves neither verdict.
  const negligible = pr.high < threshold.negligiblePerRequest || ps.high < threshold.negligiblePerSecond;
  // The last steady window alone: growth that stopped (warm-up, lazy initialisation) is no leak.
  const lw = lastWindowPoints(points);
  let lastWindow: LastWindow | undefined;
  const lwRequests = lw.points.length ? lw.points[lw.points.length - 1]!.requests - lw.points[0]!.requests : 0;
  if (
    lw.points.length >= Math.max(3, o.minSamples) &&
    lwRequests >= o.minRequests / 2 &&
    lw.points.length < points.length
  ) {
    const w = analyzeTrend(lw.points, trendOpts);
    const wSig = w.trend.pValue < o.alpha && w.trend.s > 0;
    lastWindow = {
      label: lw.label,
      n: w.n,
      perRequest: w.perRequest,
      perSecond: w.perSecond,
      verdict: windowVerdict(w.perRequest, w.perSecond, threshold, wSig),
    };
  }
  const stoppedNote = (earlier: string, grew = true) =>
    lastWindow
      ? `${grew ? `grew during ${earlier}` : `not proven negligible over all steady phases`}, flat in ${lastWindow.label} (${q(lastWindow.perRequest!.estimate)}/request, ${formatPercent(o.confidence)} CI up to ${q(lastWindow.perRequest!.high)}): ${grew ? 'not a leak' : 'stable where the run ended'}`
      : '';
  const earlier =
    phases.length > 1 && lastWindow?.label === phases[phases.length - 1]
      ? phases.slice(0, -1).join(', ')
      : 'the first half';
  // Cut at captures, growth inside the segments must also lift the level across them: a
  // capture that frees memory (a full GC, a trimmed heap) is followed by regrowth to the
  // old level, which is recovery, not a leak.
  const across =
    r.segments > 1
      ? analyzeTrend(
          points.map(({ segment: _s, ...p }) => p),
          trendOpts,
        )
      : null;
  const carried =
    !across ||
    (across.perRequest !== null &&
      across.perSecond !== null &&
      across.perRequest.low > threshold.minPerRequest &&
      across.perSecond.low > threshold.minPerSecond);
  let verdict: Verdict;
  let reason: string;
  if (sigUp && large && growthOf(pr.low) >= threshold.minRelativeGrowth && !carried) {
    verdict = 'GROWING';
    reason = `${spec.label} ${grows} ${rate}, ${perSec}, ${mk} between the ${r.segments - 1} heap capture(s), but its level does not rise across them (${q(across!.perRequest?.estimate ?? 0)}/request, ${formatPercent(o.confidence)} CI from ${q(across!.perRequest?.low ?? 0)}): regrowth after the captures, not proven a leak`;
  } else if (sigUp && large && growthOf(pr.low) >= threshold.minRelativeGrowth) {
    const stopped =
      lastWindow &&
      (lastWindow.verdict === 'STABLE' ||
        lastWindow.perRequest!.high < threshold.minPerRequest ||
        lastWindow.perSecond!.high < threshold.minPerSecond);
    if (stopped) {
      verdict = lastWindow!.verdict === 'STABLE' ? 'STABLE' : 'GROWING';
      reason = `${spec.label} ${stoppedNote(earlier)}; over all steady phases ${rate}, ${perSec}, ${mk}${steps}`;
    } else {
      verdict = 'LEAK';
      const still = lastWindow ? `, still growing in ${lastWindow.label}` : '';
      reason = `${spec.label} ${grows} ${rate}, ${perSec}, ${mk}, +${formatPercent(relativeGrowth ?? 0)} over ${formatCount(opts.requestsSent ?? r.requestSpan)} requests${still}${steps}`;
    }
  } else if (negligible) {
    verdict = 'STABLE';
    reason = `${spec.label} ${plural ? 'are' : 'is'} stable: ${rate}, ${perSec}, ${mk}${steps} (${margin})`;
  } else if (lastWindow?.verdict === 'STABLE') {
    // The last window alone proves the growth negligible where the run ended — after a warm-up
    // the first steady phase still held (V8 compiling hot code: +265 KiB of "(compiled code)"
    // over a corpus program's first ~5,000 requests, docs/verdicts.md), significant or lost in
    // its noise. An equivalence test on that window's own data, as strict as on the whole.
    verdict = 'STABLE';
    reason = `${spec.label} ${stoppedNote(earlier, sigUp)}; over all steady phases ${rate}, ${perSec}, ${mk}${steps}`;
  } else {
    verdict = 'GROWING';
    // Which bound would settle it, and how much longer a steady window would have to be.
    const towardsLeak = pr.estimate > threshold.minPerRequest && ps.estimate > threshold.minPerSecond;
    const finite = (v: number | null) => v ?? Infinity;
    const below = [
      pr.estimate < threshold.negligiblePerRequest
        ? finite(lengthFactor(pr.estimate, pr.high - pr.estimate, threshold.negligiblePerRequest))
        : Infinity,
      ps.estimate < threshold.negligiblePerSecond
        ? finite(lengthFactor(ps.estimate, ps.high - ps.estimate, threshold.negligiblePerSecond))
        : Infinity,
    ];
    const k = towardsLeak
      ? Math.max(
          finite(lengthFactor(pr.estimate, pr.estimate - pr.low, threshold.minPerRequest)),
          finite(lengthFactor(ps.estimate, ps.estimate - ps.low, threshold.minPerSecond)),
        )
      : Math.min(...below);
    const between = !towardsLeak && below.every((v) => v === Infinity);
    const decide = between
      ? `the growth lies between negligible and the leak threshold: more data narrows it but will not make it either (${margin}; ${bar})`
      : Number.isFinite(k)
        ? `a steady window ~${k < 10 ? k.toFixed(1) : Math.round(k)}× longer would decide it at this noise (${towardsLeak ? bar : margin})`
        : `the estimate sits on the threshold (${bar})`;
    const why = sigUp
      ? large
        ? `significant, but below the ${formatPercent(threshold.minRelativeGrowth)} relative growth of the leak threshold`
        : 'significant, but not above the leak threshold per request and per second'
      : 'not significant, and not proven negligible';
    reason = `${spec.label} ${grows} ${rate}, ${perSec}, ${mk}${steps}: ${why}; ${decide}`;
  }
  const acrossCaptures = across ? { perRequest: across.perRequest, perSecond: across.perSecond } : undefined;
  return {
    ...common,
    ...(acrossCaptures ? { acrossCaptures } : {}),
    ...(lastWindow ? { lastWindow } : {}),
    verdict,
    reason,
  };
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

/** What the overall verdict knows of the run beyond its series. */
export interface OverallOptions {
  /** The most connections the steady phases' HTTP load may hold open (absent: not known, or no HTTP load). */
  readonly loadConnections?: number | undefined;
}

/** Memory the target's own code allocates, in the heap or off it: an overall STABLE needs each of these proven negligible. */
const ALLOCATION_SERIES: readonly SeriesKey[] = ['heapUsedSettledBytes', 'externalBytes', 'arrayBuffersBytes'];

/**
 * The GROWING series an overall STABLE may carry, each with why, or null when some GROWING
 * series may not stand beside a STABLE. Only when the GC-settled heap, external and
 * ArrayBuffer memory (those the target reports) are each STABLE, so every allocation of the
 * target's code is proven negligible, may two series stay inconclusive:
 * - V8 heap used between full GCs: the same heap as the GC-settled series plus garbage the
 *   next full GC frees;
 * - RSS, when its CI upper bound is under its leak minimum per request or per second (it is
 *   then proven no LEAK by the rule that defines one): a young process' RSS drifts with time
 *   (allocator arenas, code, pages after a heap capture), and a short window cannot prove
 *   that drift negligible. Above both minimums RSS could be a native leak: the run stays GROWING.
 * - open fds, when the load's own connections can explain them (`loadConnections`: the most
 *   connections the steady phases' HTTP load may hold open, one per request in flight) and
 *   their fitted rise over the window, at the CI's upper bound, is no more than that: a loopback
 *   target holds one fd per connection, and a load that opens connections when the target
 *   stalls moves its fd count by up to that bound (27 → 91 fds at 64 in flight, measured).
 * Every other GROWING series (counters, a GROWING settled heap) keeps the run GROWING.
 * @example toleratedInconclusive(series)?.map((t) => t.key) // ['rssBytes']
 */
export function toleratedInconclusive(
  series: readonly SeriesAnalysis[],
  o: OverallOptions = {},
): { readonly key: SeriesKey; readonly reason: string }[] | null {
  const growing = series.filter((s) => s.verdict === 'GROWING');
  if (!growing.length) return [];
  const allocations = series.filter((s) => ALLOCATION_SERIES.includes(s.key));
  const proven =
    allocations.some((s) => s.key === 'heapUsedSettledBytes') && allocations.every((s) => s.verdict === 'STABLE');
  if (!proven) return null;
  const q = (s: SeriesAnalysis, v: number) => formatQuantity(v, s.unit);
  const out: { key: SeriesKey; reason: string }[] = [];
  for (const s of growing) {
    const pr = s.perRequest;
    const ps = s.perSecond;
    if (s.key === 'heapUsedBytes')
      out.push({
        key: s.key,
        reason: `${s.label} not proven negligible (garbage between full GCs: the GC-settled heap is)`,
      });
    else if (
      s.key === 'rssBytes' &&
      pr &&
      ps &&
      (pr.high < s.threshold.minPerRequest || ps.high < s.threshold.minPerSecond)
    )
      out.push({
        key: s.key,
        reason: `${s.label} not proven negligible: up to ${q(s, pr.high)}/request and ${q(s, ps.high)}/s (${formatPercent(ps.confidence)} CI), under its leak minimum of ${pr.high < s.threshold.minPerRequest ? `${q(s, s.threshold.minPerRequest)}/request` : `${q(s, s.threshold.minPerSecond)}/s`} (drift with time that a window this short cannot rule out)`,
      });
    else if (
      s.key === 'openFds' &&
      pr &&
      o.loadConnections !== undefined &&
      pr.high * s.requestSpan <= o.loadConnections
    )
      out.push({
        key: s.key,
        reason: `${s.label} not proven negligible: a rise of up to ${formatCount(Math.max(0, pr.high * s.requestSpan))} over the steady phases (${formatPercent(pr.confidence)} CI), within the ${formatCount(o.loadConnections)} connections the load may hold open (one per request in flight; a loopback target holds an fd for each)`,
      });
    else return null;
  }
  return out;
}

/**
 * The run's verdict and headline from its series, threads and culprit.
 * @example overallVerdict(series, threads, culprit).headline
 */
export function overallVerdict(
  series: readonly SeriesAnalysis[],
  threads: ThreadAnalysis | null,
  culprit: Culprit | null,
  o: OverallOptions = {},
): OverallVerdict {
  const leaking = series.filter((s) => s.verdict === 'LEAK');
  const threadProblem =
    threads !== null &&
    (threads.bounded === false || threads.cameBackDown === false || threads.growth?.leaking === true);
  const judged = series.filter((s) => s.verdict !== 'INSUFFICIENT_DATA');
  const tolerated = toleratedInconclusive(judged, o);
  const verdict: Verdict =
    leaking.length || threadProblem
      ? 'LEAK'
      : tolerated === null
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
    const bs = culprit.backingStores;
    parts.push(
      `${culprit.className}${bs ? ` × ${formatCount(culprit.count)}` : ''} held by ${culprit.heldBy} retains ${formatQuantity(culprit.retainedSize, 'bytes')}${share}${bs ? `, holding ${describeBackingStores(bs)}` : ''}`,
    );
  }
  if (threadProblem) parts.push(threads!.reason);
  let headline: string;
  if (verdict === 'LEAK') headline = `Leak: ${parts.join('; ')}`;
  else if (verdict === 'GROWING')
    headline = `No leak proven, not proven stable: ${series.find((s) => s.verdict === 'GROWING')!.reason}`;
  else if (verdict === 'STABLE') {
    const lead =
      judged.find((s) => s.key === 'rssBytes' && s.verdict === 'STABLE') ??
      judged.find((s) => s.key === 'heapUsedSettledBytes') ??
      judged[0];
    const open = tolerated?.length ? `; ${tolerated.map((t) => t.reason).join('; ')}` : '';
    headline = `No leak: ${lead?.reason ?? threads!.reason}${open}`;
  } else headline = 'Not enough data for a verdict: too few steady samples or requests';
  // A culprit explains a leak; without one, the objects alive at the final snapshot (young
  // objects, warm-up structures) are not a culprit of anything, so only a LEAK names one.
  return {
    verdict,
    headline,
    leaking: leaking.map((s) => s.key),
    threadProblem,
    culprit: verdict === 'LEAK' ? culprit : null,
    ...(verdict === 'STABLE' && tolerated?.length ? { inconclusive: tolerated } : {}),
  };
}
