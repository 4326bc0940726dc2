/**
 * The CI gate: an analysed run checked against a budget, one check per budget line, each
 * with the expected bound and the measured numbers. Pass = no check failed; inconclusive =
 * only data checks failed (the run cannot say, which is not a leak).
 */
import type { Analysis, Estimate, SeriesAnalysis, SeriesKey } from '../common/analysis-format.js';
import { formatPercent, formatQuantity } from '../common/format-numbers.js';
import type { Budget, SeriesBudget } from './budget.js';
import { dataChecks } from './gate-data.js';
import { capAllowance } from './series/threads.js';

export type CheckStatus = 'pass' | 'fail' | 'skip';

export interface GateCheck {
  /** Stable id, e.g. "series.rssBytes.maxPerRequest". */
  readonly id: string;
  /** Group shown as the JUnit class name: series | threads | phases | run. */
  readonly group: 'series' | 'threads' | 'phases' | 'run';
  readonly status: CheckStatus;
  /** The bound, in words: "≤ 1 KiB/request at 95% confidence". */
  readonly expected: string;
  /** What was measured: "412 B/request (95% CI 380 B–441 B)". */
  readonly actual: string;
  /** One line saying why it passed, failed or was skipped. */
  readonly message: string;
}

/**
 * pass: no check failed. fail: a leak, a budget exceeded, threads, errors or a run that did
 * not complete. inconclusive: the only failures say the run has not enough data to decide
 * (`run.data.*`, `run.verdict`) — a sampler starved on a loaded machine is not a leak.
 */
export type GateOutcome = 'pass' | 'fail' | 'inconclusive';

/** The checks that say "not enough data" rather than "too much growth". */
export const isDataCheck = (c: Pick<GateCheck, 'id'>): boolean =>
  c.id === 'run.verdict' || c.id.startsWith('run.data.');

/** The CLI's exit code for each outcome (docs/gate.md): 0, 1, and 3 for "cannot decide". */
export const GATE_EXIT: Readonly<Record<GateOutcome, number>> = { pass: 0, fail: 1, inconclusive: 3 };

export interface GateResult {
  readonly pass: boolean;
  readonly outcome: GateOutcome;
  readonly runDir: string;
  readonly scenario: string;
  readonly mode: string;
  readonly verdict: Analysis['overall']['verdict'];
  readonly headline: string;
  /** "default" or the budget file. */
  readonly budget: string;
  readonly checks: readonly GateCheck[];
  readonly counts: { readonly pass: number; readonly fail: number; readonly skip: number };
}

const perReq = (s: SeriesAnalysis, v: number) => `${formatQuantity(v, s.unit)}/request`;
const ci = (e: Estimate, f: (v: number) => string) =>
  `${f(e.estimate)} (${formatPercent(e.confidence)} CI ${f(e.low)} … ${f(e.high)})`;

/**
 * The budget's series checks against judged series (a run's, or one fleet instance's).
 * @example seriesBudgetChecks(analysis.series, DEFAULT_BUDGET, 0.95).filter((c) => c.status === 'fail')
 */
export function seriesBudgetChecks(series: readonly SeriesAnalysis[], budget: Budget, confidence: number): GateCheck[] {
  const out: GateCheck[] = [];
  const keys = new Set<SeriesKey>([
    ...series.map((s) => s.key),
    ...(Object.keys(budget.series).filter((k) => k !== '*') as SeriesKey[]),
  ]);
  for (const key of keys) {
    const b: SeriesBudget = { ...budget.series['*'], ...budget.series[key] };
    const s = series.find((x) => x.key === key);
    const id = `series.${key}`;
    if (!s) {
      // A series named explicitly must exist; '*' applies only to what the run has.
      if (budget.series[key])
        out.push({
          id,
          group: 'series',
          status: 'skip',
          expected: 'series sampled',
          actual: 'absent',
          message: `${key} was not sampled by this target`,
        });
      continue;
    }
    const insufficient = s.verdict === 'INSUFFICIENT_DATA';
    if (b.mustNotLeak) {
      out.push({
        id: `${id}.mustNotLeak`,
        group: 'series',
        status: insufficient ? 'skip' : s.verdict === 'LEAK' ? 'fail' : 'pass',
        expected: 'verdict is not LEAK',
        actual: s.verdict,
        message: s.reason,
      });
    }
    if (b.maxPerRequest !== undefined) {
      const f = (v: number) => perReq(s, v);
      const fs = (v: number) => `${formatQuantity(v, s.unit)}/s`;
      const e = s.perRequest;
      // Rate-independent: with maxPerSecond too, the growth must exceed both (a leak grows
      // with requests, drift with time: a slower load divides the same drift by fewer
      // requests). Across heap captures, the fit across them must exceed it as well.
      const low = (a: Estimate | null | undefined, b: Estimate | null | undefined) =>
        Math.min(a?.low ?? Infinity, b?.low ?? Infinity);
      const reqLow = low(e, s.acrossCaptures?.perRequest ?? e);
      const secLow = low(s.perSecond, s.acrossCaptures?.perSecond ?? s.perSecond);
      const overReq = e !== null && reqLow > b.maxPerRequest;
      const overSec = b.maxPerSecond === undefined || secLow > b.maxPerSecond;
      const fail = overReq && overSec;
      out.push({
        id: `${id}.maxPerRequest`,
        group: 'series',
        status: insufficient || !e ? 'skip' : fail ? 'fail' : 'pass',
        expected: `≤ ${f(b.maxPerRequest)}${b.maxPerSecond !== undefined ? ` or ≤ ${fs(b.maxPerSecond)}` : ''} at ${formatPercent(confidence)} confidence`,
        actual: e
          ? `${ci(e, f)}${s.perSecond && b.maxPerSecond !== undefined ? `; ${ci(s.perSecond, fs)}` : ''}`
          : 'no estimate',
        message:
          insufficient || !e
            ? s.reason
            : fail
              ? `${s.label}: even the CI lower bounds ${f(reqLow)}${b.maxPerSecond !== undefined ? ` and ${fs(secLow)}` : ''} exceed ${f(b.maxPerRequest)}${b.maxPerSecond !== undefined ? ` and ${fs(b.maxPerSecond)}` : ''}`
              : overReq
                ? `${s.label}: ${f(e.estimate)} is over ${f(b.maxPerRequest)}, but growth per second (lower bound ${fs(secLow)}) is within ${fs(b.maxPerSecond!)}: drift with time, not growth with requests`
                : `${s.label}: ${f(e.estimate)} is within ${f(b.maxPerRequest)}`,
      });
    }
  }
  return out;
}

function threadChecks(a: Analysis, budget: Budget): GateCheck[] {
  const t = a.threads;
  const b = budget.threads;
  const out: GateCheck[] = [];
  const skip = (id: string, expected: string, why: string): GateCheck => ({
    id,
    group: 'threads',
    status: 'skip',
    expected,
    actual: 'n/a',
    message: why,
  });
  if (b.maxPeak !== undefined) {
    const ex = `peak ≤ ${b.maxPeak}`;
    out.push(
      t
        ? {
            id: 'threads.maxPeak',
            group: 'threads',
            status: t.peak > b.maxPeak ? 'fail' : 'pass',
            expected: ex,
            actual: `peak ${t.peak}`,
            message: t.reason,
          }
        : skip('threads.maxPeak', ex, 'no thread series sampled'),
    );
  }
  if (b.maxPerInflight !== undefined) {
    const ex = `≤ ${b.maxPerInflight} threads per in-flight request at ${formatPercent(a.settings.confidence)} confidence`;
    const e = t?.threadsPerInflight;
    const f = (v: number) => v.toFixed(2);
    // The ratio tells a cap from no cap only once more requests are in flight than a
    // default cap (4 × CPUs) allows; below that both kinds of server look alike.
    const allowance = a.settings.cpus ? capAllowance(a.settings.cpus) : 0;
    out.push(
      !t || !e || t.spikePhase === null
        ? skip('threads.maxPerInflight', ex, 'no in-flight samples during a spike')
        : (t.peakInflight ?? 0) <= allowance
          ? skip(
              'threads.maxPerInflight',
              ex,
              `at most ${t.peakInflight} requests in flight, never more than a ${allowance}-thread cap would allow`,
            )
          : {
              id: 'threads.maxPerInflight',
              group: 'threads',
              status: e.low > b.maxPerInflight ? 'fail' : 'pass',
              expected: ex,
              actual: ci(e, f),
              message: t.reason,
            },
    );
  }
  if (b.mustBeBounded) {
    const ex = 'threads capped under load';
    out.push(
      t && t.bounded !== null
        ? {
            id: 'threads.mustBeBounded',
            group: 'threads',
            status: t.bounded ? 'pass' : 'fail',
            expected: ex,
            actual: `${t.baseline} → ${t.peak} threads with ${t.peakInflight} in flight`,
            message: t.reason,
          }
        : skip('threads.mustBeBounded', ex, 'no load spike with requests in flight'),
    );
  }
  if (b.mustComeBackDown) {
    const ex = 'threads back near their pre-spike level after recovery';
    out.push(
      t && t.cameBackDown !== null
        ? {
            id: 'threads.mustComeBackDown',
            group: 'threads',
            status: t.cameBackDown ? 'pass' : 'fail',
            expected: ex,
            actual: `${t.baseline} before, ${t.peak} peak, ${t.afterRecovery} after`,
            message: t.reason,
          }
        : skip('threads.mustComeBackDown', ex, 'no spike followed by a recovery phase'),
    );
  }
  return out;
}

function phaseChecks(a: Analysis, budget: Budget): GateCheck[] {
  const out: GateCheck[] = [];
  for (const [sel, b] of Object.entries(budget.phases)) {
    const phases =
      sel === '@all'
        ? a.phases
        : sel === '@steady'
          ? a.phases.filter((p) => p.steady)
          : a.phases.filter((p) => p.name === sel);
    if (!phases.length && !sel.startsWith('@')) {
      out.push({
        id: `phases.${sel}`,
        group: 'phases',
        status: 'fail',
        expected: `phase '${sel}' in the run`,
        actual: `phases: ${a.phases.map((p) => p.name).join(', ') || 'none'}`,
        message: `the budget names phase '${sel}', which this run does not have`,
      });
    }
    for (const p of phases) {
      const id = `phases.${p.name}`;
      if (b.maxErrorRate !== undefined) {
        const excluded = new Set(b.excludeStatuses ?? []);
        const shed = Object.entries(p.statusCounts)
          .filter(([c]) => excluded.has(c))
          .reduce((n, [, k]) => n + k, 0);
        const errors = Math.max(0, p.errors - shed);
        const rate = p.completed > 0 ? errors / p.completed : 0;
        const codes = Object.entries(p.statusCounts)
          .filter(([c]) => c !== 'OK' && c !== '200')
          .map(([c, n]) => `${c} ${n}${excluded.has(c) ? ' (not counted)' : ''}`)
          .join(', ');
        out.push({
          id: `${id}.maxErrorRate`,
          group: 'phases',
          status: rate > b.maxErrorRate ? 'fail' : 'pass',
          expected: `error rate ≤ ${formatPercent(b.maxErrorRate)}${excluded.size ? ` not counting ${[...excluded].join(', ')}` : ''}`,
          actual: `${formatPercent(rate)} (${errors} of ${p.completed})`,
          message: codes ? `non-OK statuses: ${codes}` : 'no errors',
        });
      }
      if (b.maxDroppedRate !== undefined) {
        out.push({
          id: `${id}.maxDroppedRate`,
          group: 'phases',
          status: p.droppedRate > b.maxDroppedRate ? 'fail' : 'pass',
          expected: `dropped ≤ ${formatPercent(b.maxDroppedRate)}`,
          actual: `${formatPercent(p.droppedRate)} (${p.dropped} of ${p.planned})`,
          message: `${p.completed} completed at ${p.achievedRate.toFixed(1)} req/s`,
        });
      }
      if (b.maxP99Ms !== undefined) {
        const l = p.latency;
        out.push(
          l
            ? {
                id: `${id}.maxP99Ms`,
                group: 'phases',
                status: l.p99Ms > b.maxP99Ms ? 'fail' : 'pass',
                expected: `p99 ≤ ${b.maxP99Ms} ms`,
                actual: `p99 ${l.p99Ms.toFixed(1)} ms`,
                message: `latency from ${l.basis} send time: p50 ${l.p50Ms.toFixed(1)} ms, p99 ${l.p99Ms.toFixed(1)} ms, max ${l.maxMs.toFixed(1)} ms`,
              }
            : {
                id: `${id}.maxP99Ms`,
                group: 'phases',
                status: 'skip',
                expected: `p99 ≤ ${b.maxP99Ms} ms`,
                actual: 'n/a',
                message: 'no latency recorded for this phase',
              },
        );
      }
    }
  }
  return out;
}

/**
 * Checks an analysis against a budget.
 * @example evaluateGate(await analyzeRun(readRun(dir)), DEFAULT_BUDGET).pass
 */
export function evaluateGate(a: Analysis, budget: Budget, budgetName = 'default'): GateResult {
  const checks: GateCheck[] = [];
  const complete = a.run.status === 'complete';
  checks.push({
    id: 'run.status',
    group: 'run',
    status: complete ? 'pass' : 'fail',
    expected: 'run complete',
    actual: a.run.status,
    message: complete
      ? `${a.run.requests} requests, ${a.run.sampleCount} samples`
      : `the run ended ${a.run.status}${a.run.status === 'target-died' ? ' (the target died under load: out of memory?)' : ''}`,
  });
  if (budget.requireVerdict) {
    const none = a.overall.verdict === 'INSUFFICIENT_DATA';
    checks.push({
      id: 'run.verdict',
      group: 'run',
      status: none ? 'fail' : 'pass',
      expected: 'enough data for a verdict',
      actual: a.overall.verdict,
      message: a.overall.headline,
    });
  }
  checks.push(
    ...dataChecks(a, budget.optional ?? []),
    ...seriesBudgetChecks(a.series, budget, a.settings.confidence),
    ...threadChecks(a, budget),
    ...phaseChecks(a, budget),
  );
  const count = (s: CheckStatus) => checks.filter((c) => c.status === s).length;
  const failed = checks.filter((c) => c.status === 'fail');
  return {
    pass: failed.length === 0,
    outcome: failed.length === 0 ? 'pass' : failed.every(isDataCheck) ? 'inconclusive' : 'fail',
    runDir: a.run.dir,
    scenario: a.run.scenario,
    mode: a.run.mode,
    verdict: a.overall.verdict,
    headline: a.overall.headline,
    budget: budgetName,
    checks,
    counts: { pass: count('pass'), fail: count('fail'), skip: count('skip') },
  };
}
