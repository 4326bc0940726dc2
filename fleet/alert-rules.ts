/**
 * `leakscope rules`: Prometheus recording and alerting rules that carry the gate's budget
 * into production, so what CI refused to merge also pages when it happens on a pod.
 * - Growth per request, as the gate measures it: deriv(series[W]) / rate(requests[W]),
 *   recorded per instance, alerting above the budget's maxPerRequest (RSS, V8 heap,
 *   executor-cache entries), with growth per hour recorded beside it for dashboards.
 * - Time to the memory limit: predict_linear(RSS[W]) past --limit within --horizon.
 * - Threads: handler threads above the cap, and a server running with no cap at all (the
 *   reference server exports its cap, -1 when uncapped: the leaky gRPC default).
 * The window W and the budget's confidence meet in `for`: a condition must hold for
 * (z(confidence)/z(0.95))² windows (one window at 95 %, 1.7 at 99 %), as the standard
 * error of a slope falls with the square root of the time it is measured over.
 */
import YAML from 'yaml';
import type { SeriesKey } from '../common/analysis-format.js';
import { LsError } from '../common/errors.js';
import type { Budget } from '../analyzer/budget.js';
import { formatPercent, formatQuantity } from '../common/format-numbers.js';
import { normalQuantile } from '../analyzer/series/normal.js';
import { SERIES_SPECS, type SeriesSpec } from '../analyzer/verdicts.js';
import { type FleetMetric, type FleetMetricKey, metricQuery } from './fleet-metrics.js';
import { promDuration } from './query-syntax.js';

export interface RulesOptions {
  readonly budget: Budget;
  readonly budgetName: string;
  /** Label matchers (without braces) every rule is restricted to. */
  readonly matchers: readonly string[];
  readonly groupBy: string;
  readonly metrics: readonly FleetMetric[];
  /** Window of deriv/rate (ms). */
  readonly windowMs: number;
  /** Memory limit for the predict_linear alert (bytes); no such alert without it. */
  readonly limitBytes: number | null;
  /** How far ahead predict_linear looks (ms). */
  readonly horizonMs: number;
  /** Handler threads above this alert. */
  readonly threadCap: number;
}

interface Rule {
  readonly record?: string;
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

const spec = (key: SeriesKey): SeriesSpec => SERIES_SPECS.find((s) => s.key === key)!;

/**
 * Budget series → the fleet series that carries it (the GC-settled heap is not exported;
 * the plain heap stands in), whose label, unit and noun come from the analyzer's SERIES_SPECS.
 */
const PER_REQUEST: readonly { budgetKey: SeriesKey; spec: SeriesSpec; slug: string }[] = [
  { budgetKey: 'rssBytes', spec: spec('rssBytes'), slug: 'rss_bytes' },
  { budgetKey: 'heapUsedSettledBytes', spec: spec('heapUsedBytes'), slug: 'heap_used_bytes' },
  { budgetKey: 'cacheEntries', spec: spec('cacheEntries'), slug: 'executor_cache_entries' },
];

/**
 * The rules file as YAML, ready for Prometheus' rule_files.
 * @example await writeFile('leakscope-rules.yml', alertRules({ budget: DEFAULT_BUDGET, … }))
 */
export function alertRules(o: RulesOptions): string {
  const w = promDuration(o.windowMs);
  const z = normalQuantile(1 - (1 - o.budget.confidence) / 2) / normalQuantile(0.975);
  // Rounded up to whole minutes (the rules are evaluated every minute).
  const forDuration = promDuration(Math.ceil((o.windowMs * Math.max(1, z * z)) / 60_000) * 60_000);
  const by = o.groupBy;
  const metric = (key: FleetMetricKey) => {
    const m = o.metrics.find((x) => x.key === key);
    if (!m) throw new LsError('LS_ERR_INTERNAL', `no metric names for ${key}`);
    return m;
  };
  const sel = (m: FleetMetric) => metricQuery(m, o.matchers);
  const reqRate = `leakscope:requests:rate${w}`;
  const recording: Rule[] = [
    { record: reqRate, expr: `max by (${by}) (sum by (${by}, __name__) (rate(${sel(metric('requests'))}[${w}])))` },
  ];
  const alerts: Rule[] = [];
  const budgetNote = `budget ${o.budgetName}, ${formatPercent(o.budget.confidence)} confidence`;
  for (const p of PER_REQUEST) {
    const { label, unit, noun } = p.spec;
    const m = metric(p.spec.key as FleetMetricKey);
    const deriv = `leakscope:${p.slug}:deriv${w}`;
    recording.push(
      { record: deriv, expr: `max by (${by}) (${m.within} by (${by}, __name__) (deriv(${sel(m)}[${w}])))` },
      { record: `leakscope:${p.slug}:per_hour${w}`, expr: `${deriv} * 3600` },
      { record: `leakscope:${p.slug}:per_request${w}`, expr: `${deriv} / (${reqRate} > 0)` },
    );
    const bound = o.budget.series[p.budgetKey]?.maxPerRequest;
    if (bound === undefined) continue;
    const q = (v: number) => formatQuantity(v, unit, noun);
    alerts.push({
      alert: `Leakscope${p.slug.replace(/(^|_)(\w)/g, (_a, _b, c: string) => c.toUpperCase())}GrowthPerRequest`,
      expr: `leakscope:${p.slug}:per_request${w} > ${bound}`,
      for: forDuration,
      labels: { severity: 'warning', leakscope_budget: `series.${p.budgetKey}.maxPerRequest` },
      annotations: {
        summary: `{{ $labels.${by} }}: ${label} +{{ $value | humanize }} per request (budget ${q(bound)}/request)`,
        description: `${label} grew faster than the gate's budget allows (> ${q(bound)}/request over ${w}, held for ${forDuration}; ${budgetNote}). Run leakscope fleet on this ${by} for the statistics.`,
      },
    });
  }
  if (o.limitBytes !== null) {
    const rss = metric('rssBytes');
    const h = promDuration(o.horizonMs);
    alerts.push({
      alert: 'LeakscopeMemoryLimitSoon',
      expr: `max by (${by}) (predict_linear(${sel(rss)}[${w}], ${Math.round(o.horizonMs / 1000)})) > ${o.limitBytes}`,
      for: forDuration,
      labels: { severity: 'critical' },
      annotations: {
        summary: `{{ $labels.${by} }} will reach its ${formatQuantity(o.limitBytes, 'bytes')} memory limit within ${h} at its current RSS growth`,
        description: `predict_linear over ${w} projects RSS past ${formatQuantity(o.limitBytes, 'bytes')} within ${h}: the process will be OOM-killed unless the growth stops.`,
      },
    });
  }
  const threads = metric('handlerThreads');
  alerts.push(
    {
      alert: 'LeakscopeThreadsAboveCap',
      expr: `max by (${by}) (${sel(threads)}) > ${o.threadCap}`,
      for: '5m',
      labels: { severity: 'warning', leakscope_budget: 'threads.maxPeak' },
      annotations: {
        summary: `{{ $labels.${by} }} runs {{ $value }} handler threads (cap ${o.threadCap})`,
        description:
          'Handler threads follow in-flight load past the cap: the gRPC sync-server thread explosion (TF Serving #1785: set --grpc_max_threads).',
      },
    },
    {
      alert: 'LeakscopeThreadsUncapped',
      expr: `max by (${by}) ({${['__name__="leakscope_handler_threads_cap"', ...o.matchers].join(',')}}) < 0`,
      for: '15m',
      labels: { severity: 'info', leakscope_budget: 'threads.mustBeBounded' },
      annotations: {
        summary: '{{ $labels.' + by + ' }} serves with no handler-thread cap',
        description:
          'The server has no thread cap (gRPC sync server default): a traffic spike starts a thread per in-flight request.',
      },
    },
  );
  return YAML.stringify(
    {
      groups: [
        { name: 'leakscope-recording', interval: '1m', rules: recording },
        { name: 'leakscope-alerts', rules: alerts },
      ],
    },
    { lineWidth: 0 },
  );
}
