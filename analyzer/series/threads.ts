/**
 * Thread analysis around a load spike (leak 2, the gRPC sync-server thread explosion):
 * did threads follow in-flight requests (one thread per request, no cap), how high did
 * they go, and did they come back down once the spike was over? And outside a spike: do
 * threads grow with requests (a Worker started every N requests that never exits), and
 * which threads are they (the inspector's worker scripts, /proc names)?
 */
import type { Estimate, ThreadAnalysis, ThreadGroupChange, ThreadGrowth } from '../../common/analysis-format.js';
import type { PhaseRecord, Sample } from '../../common/run-format.js';
import { maxOf, median, medianEstimate } from './median.js';
import { analyzeTrend } from './trend.js';
import { formatCount, formatPercent } from '../../common/format-numbers.js';

export interface ThreadOptions {
  readonly confidence?: number;
  /** Significance level of the per-request growth trend (default 0.01, as the series verdicts). */
  readonly alpha?: number;
  /** Phase to treat as the spike (default: one named like "spike"/"burst", else the highest in-flight). */
  readonly spikePhase?: string;
  /** CPUs of the target's host (manifest host.cpus): sets the cap a bounded pool stays under. */
  readonly cpus?: number;
}

/**
 * Rise a capped pool cannot exceed: TF Serving's fix caps gRPC threads at 4 × CPUs by
 * default (PR #1785), plus 4 for libuv's default thread pool starting on first use.
 */
export const capAllowance = (cpus: number): number => 4 * cpus + 4;

/** Threads that did not return within this many of the baseline (or 10 % of the rise) stayed up. */
const SETTLE_SLACK = 2;
/** A rise below this many threads is never called an explosion. */
const MIN_RISE = 8;
/** Per-request growth: the CI's lower bound must reach this many threads per 1,000 requests (the threads series' own minimum, 0.001 per request, so the gate fails what this calls a leak)… */
export const MIN_PER_THOUSAND = 1;
/** …and the count rise by this many threads and this fraction over the window. */
const MIN_GROWTH_RISE = 4;
const MIN_GROWTH_RELATIVE = 0.25;
/** Fewer samples or requests than this give no per-request estimate. */
const MIN_GROWTH_SAMPLES = 10;
const MIN_GROWTH_REQUESTS = 200;

const plannedRate = (p: PhaseRecord | undefined): number | undefined => {
  const r = p?.load?.rate;
  return typeof r === 'number' ? r : undefined;
};

/**
 * The spike phase: one named so, or a phase whose planned rate is at least 3× the rate of
 * the phase before it. A run without one (a steady soak, a shuffled-input load) has no
 * spike: its threads are judged as a series, not as an explosion that must come back down.
 */
function pickSpike(phases: readonly PhaseRecord[], named?: string): number {
  if (named !== undefined) return phases.findIndex((p) => p.name === named);
  const byName = phases.findIndex((p) => /spike|burst|surge/i.test(p.name));
  if (byName >= 0) return byName;
  return phases.findIndex((p, i) => {
    const r = plannedRate(p);
    const prev = plannedRate(phases[i - 1]);
    return i > 0 && r !== undefined && prev !== undefined && r >= 3 * prev;
  });
}

function groupChange(
  name: string,
  before: readonly number[],
  all: readonly number[],
  after: readonly number[],
): ThreadGroupChange {
  const baseline = median(before);
  const peak = maxOf(all);
  const afterV = median(after);
  const rise = peak - (baseline ?? all[0]!);
  const grew = rise >= Math.max(SETTLE_SLACK, 0.1 * Math.max(1, baseline ?? 0));
  const cameBackDown =
    afterV === null || !grew ? null : afterV <= (baseline ?? all[0]!) + Math.max(SETTLE_SLACK, 0.1 * rise);
  return { name, baseline, peak, after: afterV, grew, cameBackDown };
}

const perThousand = (x: number) => (Math.abs(x * 1000) < 0.05 ? '0' : (x * 1000).toFixed(1));

/**
 * Thread growth per request over `calm` samples (in time order), with what grew: the worker
 * script whose live count rose most (inspector), else the /proc thread name that rose most
 * when names differ, else threads as a whole.
 */
export function threadGrowth(
  calm: readonly Sample[],
  phases: readonly string[],
  value: (s: Sample) => number | undefined,
  label: string,
  opts: { confidence: number; alpha: number },
): ThreadGrowth | null {
  const pts = calm
    .filter((s) => value(s) !== undefined)
    .map((s) => ({ t: s.t, requests: s.requests, value: value(s)! }));
  if (pts.length < MIN_GROWTH_SAMPLES || pts[pts.length - 1]!.requests - pts[0]!.requests < MIN_GROWTH_REQUESTS)
    return null;
  const r = analyzeTrend(pts, { confidence: opts.confidence });
  if (!r.perRequest) return null;
  const per = { ...r.perRequest };
  const rise = r.end - r.start;
  const leaking =
    r.trend.pValue < opts.alpha &&
    per.low * 1000 >= MIN_PER_THOUSAND &&
    rise >= MIN_GROWTH_RISE &&
    rise >= MIN_GROWTH_RELATIVE * Math.max(1, r.start);

  // Who: the worker script that gained most, else a /proc name that gained most.
  const first = calm[0]!;
  const last = calm[calm.length - 1]!;
  const gain = (pick: (s: Sample) => Readonly<Record<string, number>> | undefined) => {
    const names = new Set([...Object.keys(pick(first) ?? {}), ...Object.keys(pick(last) ?? {})]);
    let best: [string, number] | null = null;
    for (const n of names) {
      const d = (pick(last)?.[n] ?? 0) - (pick(first)?.[n] ?? 0);
      if (d > 0 && (!best || d > best[1])) best = [n, d];
    }
    return best;
  };
  const worker = calm.some((s) => s.workersByScript) ? gain((s) => s.workersByScript) : null;
  const named = Object.keys(last.threadsByName ?? {}).length > 1 ? gain((s) => s.threadsByName) : null;
  let who = label;
  let exited: number | null = null;
  let rate = per;
  if (worker) {
    who = `Worker threads from ${worker[0]}`;
    exited =
      first.workersExited !== undefined && last.workersExited !== undefined
        ? last.workersExited - first.workersExited
        : null;
    // The workers' own rate when their count was sampled often enough, else the threads'.
    const w = threadGrowthOf(calm, (s) => s.workersByScript?.[worker[0]] ?? 0, opts.confidence);
    if (w) rate = w;
  } else if (named) who = `threads named ${named[0]}`;
  const ci = `${formatPercent(rate.confidence)} CI ${perThousand(rate.low)}–${perThousand(rate.high)}`;
  const exits = exited === null ? '' : exited === 0 ? ' and never exit' : `; ${formatCount(exited)} exited`;
  const headline = leaking
    ? `${who} grow ${perThousand(rate.estimate)} per 1,000 requests (${ci})${exits}: ${formatCount(Math.round(r.start))} → ${formatCount(Math.round(r.end))} over ${formatCount(r.requestSpan)} requests`
    : `${label} per 1,000 requests: ${perThousand(per.estimate)} (${formatPercent(per.confidence)} CI ${perThousand(per.low)}–${perThousand(per.high)}), no thread leak`;
  return {
    phases,
    n: r.n,
    requestSpan: r.requestSpan,
    perThousandRequests: {
      estimate: per.estimate * 1000,
      low: per.low * 1000,
      high: per.high * 1000,
      confidence: per.confidence,
    },
    pValue: r.trend.pValue,
    start: r.start,
    end: r.end,
    leaking,
    who,
    exited,
    headline,
  };
}

function threadGrowthOf(calm: readonly Sample[], v: (s: Sample) => number, confidence: number): Estimate | null {
  const pts = calm.map((s) => ({ t: s.t, requests: s.requests, value: v(s) }));
  return analyzeTrend(pts, { confidence }).perRequest;
}

/**
 * Thread analysis of a run's samples; null when no thread series was sampled.
 * @example analyzeThreads(run.manifest.phases, run.samples)?.cameBackDown
 */
export function analyzeThreads(
  phases: readonly PhaseRecord[],
  samples: readonly Sample[],
  opts: ThreadOptions = {},
): ThreadAnalysis | null {
  const source = samples.some((s) => s.threads !== undefined)
    ? 'threads'
    : samples.some((s) => s.handlerThreads !== undefined)
      ? 'handlerThreads'
      : null;
  if (!source) return null;
  const value = (s: Sample): number | undefined => s[source];
  const withValue = samples.filter((s) => value(s) !== undefined);
  const confidence = opts.confidence ?? 0.95;

  const spikeIdx = pickSpike(phases, opts.spikePhase);
  const spike = spikeIdx >= 0 ? phases[spikeIdx]! : undefined;
  const recovery = spikeIdx >= 0 ? phases[spikeIdx + 1] : undefined;
  const inPhase = (name: string | undefined) => withValue.filter((s) => s.phase === name);
  const beforeNames = new Set(spikeIdx > 0 ? [phases[spikeIdx - 1]!.name] : []);
  const before = spike
    ? withValue.filter((s) => beforeNames.has(s.phase))
    : withValue.slice(0, Math.max(1, Math.floor(withValue.length / 10)));
  const spikeSamples = inPhase(spike?.name);
  const recSamples = inPhase(recovery?.name);
  const lastThird = recSamples.slice(Math.floor((recSamples.length * 2) / 3));

  let peakSample = withValue[0]!;
  for (const s of withValue) if (value(s)! > value(peakSample)!) peakSample = s;
  const peak = value(peakSample)!;
  const baseline = median(before.map((s) => value(s)!));
  const spikeValues = spikeSamples.map((s) => value(s)!);
  const spikeMedian = median(spikeValues);
  const plateau = spikeMedian === null ? null : median(spikeValues.filter((v) => v >= spikeMedian));
  const afterRecovery = median(lastThird.map((s) => value(s)!));

  const inflightSamples = withValue.filter((s) => s.inflight !== undefined);
  const peakInflight = inflightSamples.length ? maxOf(inflightSamples.map((s) => s.inflight!)) : null;
  const rise = peak - (baseline ?? peak);
  // Threads added per request in flight, sample by sample during the spike: ≈1 when every
  // in-flight request holds its own thread, ≈0 when a cap holds the pool flat.
  // Only samples with more requests in flight than a default cap allows can tell a cap from
  // none (below that both look alike), and a handful of them is not an estimate.
  const allowanceForRatio = opts.cpus ? capAllowance(opts.cpus) : MIN_RISE;
  const loaded = (spike ? spikeSamples : withValue).filter((s) => (s.inflight ?? 0) > allowanceForRatio);
  const threadsPerInflight: Estimate | null =
    baseline === null || loaded.length < 3
      ? null
      : medianEstimate(
          loaded.map((s) => (value(s)! - baseline) / s.inflight!),
          confidence,
        );
  const extra = peakInflight ? rise / peakInflight : null;
  // A rise no larger than a default cap allows is a pool doing its job, not an explosion
  // that must be undone: whether it shrinks back is only judged past that.
  const judgeReturn = rise > (opts.cpus ? capAllowance(opts.cpus) : MIN_RISE);
  const cameBackDown =
    !spike || !recovery || !judgeReturn || afterRecovery === null || baseline === null
      ? null
      : afterRecovery <= baseline + Math.max(SETTLE_SLACK, 0.1 * rise);
  // Unbounded: threads followed load (a rise of at least half the peak in-flight count,
  // about one thread per request in flight) or rose past what any default cap allows while
  // more requests than that were in flight — on a slow machine thread start-up lags the
  // load, so the ratio alone misses a real explosion.
  const allowance = opts.cpus ? capAllowance(opts.cpus) : Infinity;
  const followed =
    rise >= Math.max(MIN_RISE, 0.5 * (peakInflight ?? 0)) &&
    (threadsPerInflight === null || threadsPerInflight.estimate >= 0.5);
  const pastCap = rise > Math.max(MIN_RISE, allowance) && (peakInflight ?? 0) > allowance;
  const bounded = !spike || peakInflight === null || peakInflight < MIN_RISE ? null : !(followed || pastCap);

  // Per-name groups (/proc comm) and the server's handler-thread gauge, over the same windows.
  const groups: ThreadGroupChange[] = [];
  const gauges = [...new Set(samples.flatMap((s) => Object.keys(s.threadsByName ?? {})))]
    .sort()
    .map((name) => ({ name, read: (s: Sample) => s.threadsByName?.[name] }));
  if (source === 'threads') gauges.push({ name: 'handler threads', read: (s: Sample) => s.handlerThreads });
  for (const { name, read } of gauges) {
    const v = (list: readonly Sample[]) => list.map(read).filter((x): x is number => x !== undefined);
    const all = v(samples);
    if (all.length) groups.push(groupChange(name, v(before), all, v(lastThird)));
  }

  const label = source === 'threads' ? 'threads' : 'handler threads';
  // The calm part of the run: steady phases (else all) other than the spike and its recovery.
  const loud = new Set([spike?.name, recovery?.name].filter((x) => x !== undefined));
  const calmPhases = phases.filter((p) => !loud.has(p.name));
  const calmNames = (calmPhases.some((p) => p.steady) ? calmPhases.filter((p) => p.steady) : calmPhases).map(
    (p) => p.name,
  );
  const calmSet = new Set(calmNames);
  const growth = threadGrowth(
    withValue.filter((s) => calmSet.has(s.phase)),
    calmNames,
    value,
    label,
    { confidence, alpha: opts.alpha ?? 0.01 },
  );
  const parts = spike
    ? [`${label} peaked at ${peak}${baseline !== null ? ` from ${baseline} before the spike` : ''}`]
    : [
        growth?.leaking
          ? growth.headline
          : `${label} peaked at ${peak}${baseline !== null ? ` from ${baseline} at the start` : ''}`,
      ];
  if (spike && growth?.leaking) parts.push(`outside the spike: ${growth.headline}`);
  if (peakInflight !== null) parts.push(`${peakInflight} requests in flight at most`);
  if (threadsPerInflight)
    parts.push(
      `${threadsPerInflight.estimate.toFixed(2)} threads per in-flight request (${formatPercent(confidence)} CI ${threadsPerInflight.low.toFixed(2)}–${threadsPerInflight.high.toFixed(2)})`,
    );
  if (bounded === false)
    parts.push(
      followed
        ? 'no cap: threads followed in-flight load'
        : `no cap: threads rose by ${rise}, past the ${allowance} a 4 × CPUs cap allows`,
    );
  else if (bounded === true) parts.push('bounded: threads did not follow in-flight load');
  if (cameBackDown === true) parts.push(`came back down to ${afterRecovery}`);
  else if (cameBackDown === false) parts.push(`did not come back down (${afterRecovery} after recovery)`);
  return {
    source,
    spikePhase: spike?.name ?? null,
    recoveryPhase: recovery?.name ?? null,
    baseline,
    peak,
    peakTMs: peakSample.t,
    plateau,
    afterRecovery,
    peakInflight,
    threadsPerInflight,
    extraThreadsPerInflightAtPeak: extra,
    cameBackDown,
    bounded,
    groups,
    growth,
    reason: parts.join('; '),
  };
}
