/**
 * `leakscope fleet` as a library function: options checked once here (messages name the
 * option), the fleet fetched from Prometheus, every instance judged, the canary compared
 * with its baseline when asked, and one FleetResult (common/fleet-format.ts) returned.
 */
import { LsError } from '../common/errors.js';
import { FLEET_FORMAT, type FleetCounts, type FleetResult, type InstanceJudgement } from '../common/fleet-format.js';
import { VERSION } from '../common/version.js';
import { DEFAULT_BUDGET, type Budget } from '../analyzer/budget.js';
import { VERDICT_DEFAULTS } from '../analyzer/verdicts.js';
import { canaryAnalysis } from './canary.js';
import { fetchFleet, type FleetData, type FleetSelector } from './fetch-fleet.js';
import { fleetMetrics } from './fleet-metrics.js';
import { judgeInstance, verdictRank } from './judge-instance.js';
import { PrometheusClient } from './prometheus-api.js';
import { parseBytes, parseDuration, parseTime, selectorMatchers } from './query-syntax.js';
import { DEFAULT_SETTLE_MS } from './segments.js';

export interface FleetOptions {
  /** Prometheus base URL. */
  readonly prometheus: string;
  /** Label matchers of the fleet, e.g. {job="serving"}; optional with canary + baseline. */
  readonly selector?: string;
  readonly canary?: string;
  readonly baseline?: string;
  /** How far back from `end` (Prometheus duration, e.g. 2h). */
  readonly range: string;
  /** Resolution: a duration, or `auto` (default): 15 s, coarser when the range would give more than 2,000 points. */
  readonly step?: string;
  /** End of the range: now (default), Unix seconds or RFC 3339. */
  readonly end?: string;
  /** Label naming an instance (default instance). */
  readonly groupBy?: string;
  /** KEY=NAME overrides of metric names. */
  readonly metrics?: readonly string[];
  readonly budget?: Budget;
  /** Budget file name or "default", for the result. */
  readonly budgetName?: string;
  /** Memory limit, e.g. 4GiB (default: container_spec_memory_limit_bytes when present). */
  readonly limit?: string;
  /** Prometheus requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Points per segment used by the O(n²) statistics, subsampled evenly (default 300). */
  readonly maxSamples?: number;
  /** Canary sub-windows per instance (default 6). */
  readonly windows?: number;
  /** Warm-up left out after each process start, a duration (default 10m). */
  readonly settle?: string;
  /** Clock for `end: now` (tests). */
  readonly now?: number;
}

/** Points per series `--step auto` aims at: 5× what the statistics use per segment, so segments after restarts still have enough. */
const AUTO_POINTS = 2000;

/**
 * `--step auto`: 15 s (a common scrape interval), or whole seconds coarser so the range has
 * at most AUTO_POINTS points; fetching a day at 15 s to use 400 points of it costs
 * Prometheus and this process 3× the work for the same evenly spaced sample.
 * @example autoStepMs(86_400_000) // 44_000
 */
export function autoStepMs(rangeMs: number): number {
  return Math.max(15_000, Math.ceil(rangeMs / AUTO_POINTS / 1000) * 1000);
}

/** Most grid points per series: beyond that, ask for a coarser --step. */
const MAX_GRID_POINTS = 50_000;
export const FLEET_DEFAULT_MAX_SAMPLES = 300;

function counts(instances: readonly InstanceJudgement[]): FleetCounts {
  const c = {
    instances: instances.length,
    LEAK: 0,
    GROWING: 0,
    STABLE: 0,
    INSUFFICIENT_DATA: 0,
    restarts: 0,
    oomKills: 0,
    failed: 0,
  };
  for (const i of instances) {
    c[i.verdict]++;
    c.restarts += i.restarts;
    c.oomKills += i.oomKills;
    if (!i.pass) c.failed++;
  }
  return c;
}

const rssRate = (i: InstanceJudgement) => i.projection.rssPerHour?.estimate ?? -Infinity;

/**
 * Judges a fleet from Prometheus: `leakscope fleet --prometheus URL --selector SEL --range 2h`.
 * @example const r = await analyzeFleet({ prometheus: 'http://127.0.0.1:9090', selector: '{job="serving"}', range: '2h' }); r.pass
 */
export async function analyzeFleet(o: FleetOptions): Promise<FleetResult> {
  const rangeMs = parseDuration(o.range, '--range');
  const stepMs = o.step === undefined || o.step === 'auto' ? autoStepMs(rangeMs) : parseDuration(o.step, '--step');
  const endMs = parseTime(o.end ?? 'now', '--end', o.now);
  const grid = Math.floor(rangeMs / stepMs) + 1;
  if (grid < VERDICT_DEFAULTS.minSamples)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--range ${o.range} at --step ${stepMs / 1000}s gives ${grid} point(s) per series; the statistics need at least ${VERDICT_DEFAULTS.minSamples}`,
    );
  if (grid > MAX_GRID_POINTS)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--range ${o.range} at --step ${stepMs / 1000}s gives ${grid} points per series (at most ${MAX_GRID_POINTS}); use a larger --step`,
    );
  const groupBy = o.groupBy ?? 'instance';
  if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(groupBy))
    throw new LsError('LS_ERR_INVALID_OPTION', `--by: '${groupBy}' is not a label name`);
  if ((o.canary === undefined) !== (o.baseline === undefined))
    throw new LsError('LS_ERR_INVALID_OPTION', '--canary and --baseline go together: give both selectors or neither');
  const selectors: FleetSelector[] = [];
  if (o.canary !== undefined && o.baseline !== undefined) {
    const extra = o.selector !== undefined ? selectorMatchers(o.selector, '--selector') : [];
    selectors.push(
      { text: o.canary, group: 'canary', matchers: [...extra, ...selectorMatchers(o.canary, '--canary')] },
      { text: o.baseline, group: 'baseline', matchers: [...extra, ...selectorMatchers(o.baseline, '--baseline')] },
    );
  } else if (o.selector !== undefined) {
    selectors.push({ text: o.selector, matchers: selectorMatchers(o.selector, '--selector') });
  } else {
    throw new LsError('LS_ERR_INVALID_OPTION', '--selector is required (or --canary with --baseline)');
  }
  const limitBytes = o.limit !== undefined ? parseBytes(o.limit, '--limit') : null;
  const settleMs = o.settle !== undefined ? parseDuration(o.settle, '--settle') : DEFAULT_SETTLE_MS;
  const maxSamples = o.maxSamples ?? FLEET_DEFAULT_MAX_SAMPLES;
  if (!Number.isInteger(maxSamples) || maxSamples < 10)
    throw new LsError('LS_ERR_INVALID_OPTION', `--max-samples: must be a whole number ≥ 10, got ${maxSamples}`);
  const windows = o.windows ?? 6;
  if (!Number.isInteger(windows) || windows < 1 || windows > 100)
    throw new LsError('LS_ERR_INVALID_OPTION', `--windows: must be a whole number from 1 to 100, got ${windows}`);
  const budget = o.budget ?? DEFAULT_BUDGET;
  const metrics = fleetMetrics(o.metrics);
  const client = new PrometheusClient({
    url: o.prometheus,
    ...(o.concurrency !== undefined ? { concurrency: o.concurrency } : {}),
  });

  const data: FleetData = await fetchFleet(client, {
    selectors,
    groupBy,
    startMs: endMs - rangeMs,
    endMs,
    stepMs,
    metrics,
  });
  return judgeFleet(data, {
    query: {
      prometheus: client.url,
      selector: selectors.map((sel) => (sel.group ? `${sel.group} ${sel.text}` : sel.text)).join('; '),
      groupBy,
      start: new Date(data.startMs).toISOString(),
      end: new Date(endMs).toISOString(),
      stepSeconds: stepMs / 1000,
      metrics: Object.fromEntries(metrics.map((m) => [m.key, m.names])),
      requests: client.requests,
      concurrency: client.peakConcurrency,
    },
    budget,
    budgetName: o.budgetName ?? 'default',
    limitBytes,
    settleMs,
    maxSamples,
    windows,
    ...(o.canary !== undefined && o.baseline !== undefined
      ? { canary: { canary: o.canary, baseline: o.baseline } }
      : {}),
  });
}

export interface JudgeFleetOptions {
  readonly query: FleetResult['query'];
  readonly budget: Budget;
  readonly budgetName: string;
  readonly limitBytes: number | null;
  readonly settleMs: number;
  readonly maxSamples: number;
  readonly windows: number;
  /** Selectors of the two groups (instances carry their group in the data). */
  readonly canary?: { readonly canary: string; readonly baseline: string };
}

/**
 * Judges fetched fleet data: every instance, the fleet counts, the canary when asked.
 * @example judgeFleet(data, { query, budget: DEFAULT_BUDGET, budgetName: 'default', limitBytes: null, settleMs: DEFAULT_SETTLE_MS, maxSamples: 400, windows: 6 })
 */
export function judgeFleet(data: FleetData, o: JudgeFleetOptions): FleetResult {
  const { budget, limitBytes, settleMs } = o;
  const warnings: string[] = [];
  if (!data.found.has('requests'))
    warnings.push(
      `no request counter found (${(o.query.metrics.requests ?? []).join(', ')}): growth per request cannot be judged; name yours with --metric requests=NAME`,
    );
  const judgeOpts = { budget, limitBytes, settleMs, maxSamples: o.maxSamples, confidence: budget.confidence };
  const instances = data.instances
    .map((inst) => judgeInstance(data, inst, judgeOpts))
    .sort(
      (a, b) =>
        Number(a.pass) - Number(b.pass) ||
        verdictRank(b.verdict) - verdictRank(a.verdict) ||
        rssRate(b) - rssRate(a) ||
        a.instance.localeCompare(b.instance),
    );
  const canary = o.canary
    ? canaryAnalysis(data, {
        canarySelector: o.canary.canary,
        baselineSelector: o.canary.baseline,
        budget,
        windows: o.windows,
        limitBytes,
        settleMs,
      })
    : null;
  const c = counts(instances);
  const pass = c.failed === 0 && (canary === null || canary.pass);
  const parts = [
    `${c.instances} instance(s): ${c.LEAK} LEAK, ${c.GROWING} GROWING, ${c.STABLE} STABLE, ${c.INSUFFICIENT_DATA} without enough data`,
  ];
  if (c.restarts) parts.push(`${c.restarts} restart(s), ${c.oomKills} OOM kill(s)`);
  if (c.failed) parts.push(`${c.failed} over budget`);
  if (canary) parts.push(canary.pass ? 'canary passes' : 'canary fails');
  return {
    format: FLEET_FORMAT,
    tool: { name: 'leakscope', version: VERSION },
    analyzedAt: new Date().toISOString(),
    query: o.query,
    settings: {
      confidence: budget.confidence,
      alpha: VERDICT_DEFAULTS.alpha,
      maxSamples: o.maxSamples,
      budget: o.budgetName,
    },
    counts: c,
    instances,
    canary,
    pass,
    headline: `${pass ? 'Fleet passes' : 'Fleet fails'}: ${parts.join('; ')}`,
    warnings,
  };
}
