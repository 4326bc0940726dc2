/**
 * The metrics fleet mode reads, by the analyzer's series key, with the names they have in
 * the standard Node exporter (prom-client's default metrics, which the reference server
 * exports unprefixed too, with `process_threads` and its own `leakscope_` gauges) and in TF
 * Serving. Each can be renamed from the command line (`--metric rssBytes=container_memory_rss`).
 */
import type { SeriesKey } from '../common/analysis-format.js';
import { LsError } from '../common/errors.js';

/** Series judged, plus the counters and facts the judgement needs. */
export type FleetMetricKey = Exclude<SeriesKey, 'heapUsedSettledBytes'> | 'requests' | 'startTime' | 'memoryLimit';

export interface FleetMetric {
  readonly key: FleetMetricKey;
  /** Names tried, any of which may be present; per instance the largest (after summing labels) is used. */
  readonly names: readonly string[];
  /**
   * How the label sets of one name are combined per instance: `sum` for per-model gauges and
   * per-method counters, `max` for process facts (one series per process anyway).
   */
  readonly within: 'sum' | 'max';
}

export const DEFAULT_FLEET_METRICS: readonly FleetMetric[] = [
  { key: 'rssBytes', names: ['process_resident_memory_bytes'], within: 'max' },
  { key: 'heapUsedBytes', names: ['nodejs_heap_size_used_bytes'], within: 'max' },
  { key: 'externalBytes', names: ['nodejs_external_memory_bytes'], within: 'max' },
  { key: 'openFds', names: ['process_open_fds'], within: 'max' },
  { key: 'threads', names: ['process_threads'], within: 'max' },
  { key: 'handlerThreads', names: ['leakscope_handler_threads'], within: 'max' },
  { key: 'cacheEntries', names: ['leakscope_executor_cache_entries'], within: 'sum' },
  { key: 'cacheKeyBytes', names: ['leakscope_executor_cache_key_bytes'], within: 'sum' },
  {
    key: 'requests',
    names: ['leakscope_requests_total', 'http_requests_total', ':tensorflow:serving:request_count'],
    within: 'sum',
  },
  { key: 'startTime', names: ['process_start_time_seconds'], within: 'max' },
  { key: 'memoryLimit', names: ['container_spec_memory_limit_bytes'], within: 'max' },
];

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The default table with `KEY=NAME[|NAME…]` overrides applied (from `--metric`).
 * @example fleetMetrics(['rssBytes=container_memory_rss']).find((m) => m.key === 'rssBytes')!.names // ['container_memory_rss']
 */
export function fleetMetrics(overrides: readonly string[] = []): FleetMetric[] {
  const table = new Map(DEFAULT_FLEET_METRICS.map((m) => [m.key, m]));
  for (const o of overrides) {
    const eq = o.indexOf('=');
    const key = o.slice(0, eq) as FleetMetricKey;
    const names = o
      .slice(eq + 1)
      .split('|')
      .map((s) => s.trim());
    if (eq < 0 || !table.has(key))
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `--metric: '${o}' must be KEY=NAME with KEY one of ${[...table.keys()].join(', ')}`,
      );
    const badName = names.find((n) => !METRIC_NAME.test(n));
    if (badName !== undefined)
      throw new LsError('LS_ERR_INVALID_OPTION', `--metric: '${badName}' is not a Prometheus metric name (in '${o}')`);
    table.set(key, { ...table.get(key)!, names });
  }
  return [...table.values()];
}

/**
 * The selector of one metric under the fleet's label matchers: any of its names (a regex
 * alternation; names cannot hold regex characters other than ':'). The fleet's range
 * queries and the alerting rules both select a metric this way.
 * @example metricQuery(m, ['job="serving"']) // '{__name__=~"a|b",job="serving"}'
 */
export function metricQuery(m: FleetMetric, matchers: readonly string[]): string {
  return `{${[`__name__=~"${m.names.join('|')}"`, ...matchers].join(',')}}`;
}
