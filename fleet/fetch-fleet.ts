/**
 * A fleet's history from Prometheus, assembled per instance on one time grid: for each
 * metric one range query per selector, aggregated in PromQL to one series per instance
 * (labels of one metric name summed or maxed, then the largest of the alternative names),
 * written into a Float64Array per instance and metric (NaN where nothing was scraped).
 */
import { LsError } from '../common/errors.js';
import type { FleetMetric, FleetMetricKey } from './fleet-metrics.js';
import { nameAlternation } from './fleet-metrics.js';
import type { PrometheusClient } from './prometheus-api.js';

export interface InstanceSeries {
  readonly instance: string;
  readonly group?: 'canary' | 'baseline';
  /** One value per grid point, NaN where absent. */
  readonly values: Map<FleetMetricKey, Float64Array>;
}

export interface FleetData {
  /** Grid: startMs + i × stepMs for i < points. */
  readonly startMs: number;
  readonly stepMs: number;
  readonly points: number;
  readonly instances: readonly InstanceSeries[];
  /** Metrics that returned at least one series. */
  readonly found: ReadonlySet<FleetMetricKey>;
}

export interface FleetSelector {
  /** Label matchers without braces, already checked (query-syntax.ts). */
  readonly matchers: readonly string[];
  /** As the user wrote it, for messages. */
  readonly text: string;
  readonly group?: 'canary' | 'baseline';
}

export interface FetchFleetOptions {
  readonly selectors: readonly FleetSelector[];
  /** Label that names an instance (default "instance"; "pod" on Kubernetes). */
  readonly groupBy: string;
  readonly startMs: number;
  readonly endMs: number;
  readonly stepMs: number;
  readonly metrics: readonly FleetMetric[];
}

/**
 * The PromQL for one metric of one selector, one series per instance.
 * @example metricQuery(m, ['job="serving"'], 'instance') // 'max by (instance) (sum by (instance, __name__) ({__name__=~"a|b",job="serving"}))'
 */
export function metricQuery(m: FleetMetric, matchers: readonly string[], groupBy: string): string {
  const sel = `{${[`__name__=~"${nameAlternation(m.names)}"`, ...matchers].join(',')}}`;
  return `max by (${groupBy}) (${m.within} by (${groupBy}, __name__) (${sel}))`;
}

/**
 * Fetches every metric of every selector; throws LS_ERR_INVALID_OPTION when a selector
 * matches no instance at all or an instance falls in both canary and baseline.
 * @example await fetchFleet(client, { selectors, groupBy: 'instance', startMs, endMs, stepMs: 15_000, metrics })
 */
export async function fetchFleet(client: PrometheusClient, o: FetchFleetOptions): Promise<FleetData> {
  const startMs = Math.floor(o.startMs / o.stepMs) * o.stepMs;
  const points = Math.floor((o.endMs - startMs) / o.stepMs) + 1;
  const byKey = new Map<string, InstanceSeries>();
  const found = new Set<FleetMetricKey>();
  const seenBySelector = new Map<FleetSelector, number>();
  await Promise.all(
    o.selectors.flatMap((sel) =>
      o.metrics.map((m) =>
        client.queryRange(metricQuery(m, sel.matchers, o.groupBy), startMs, o.endMs, o.stepMs, (labels, values) => {
          const name = labels[o.groupBy];
          if (name === undefined || values.length === 0) return;
          let inst = byKey.get(name);
          if (!inst) {
            inst = { instance: name, ...(sel.group ? { group: sel.group } : {}), values: new Map() };
            byKey.set(name, inst);
          } else if (inst.group !== sel.group) {
            throw new LsError(
              'LS_ERR_INVALID_OPTION',
              `${o.groupBy}="${name}" is matched by both --canary and --baseline; the groups must not overlap`,
            );
          }
          let arr = inst.values.get(m.key);
          if (!arr) {
            arr = new Float64Array(points).fill(NaN);
            inst.values.set(m.key, arr);
            if (m.key !== 'startTime' && m.key !== 'memoryLimit')
              seenBySelector.set(sel, (seenBySelector.get(sel) ?? 0) + 1);
          }
          found.add(m.key);
          for (const [t, v] of values) {
            const i = Math.round((t * 1000 - startMs) / o.stepMs);
            if (i >= 0 && i < points) arr[i] = Number(v);
          }
        }),
      ),
    ),
  );
  for (const sel of o.selectors)
    if (!seenBySelector.get(sel))
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `${sel.group ? `--${sel.group}` : '--selector'} ${sel.text} matched no series with a '${o.groupBy}' label between ${new Date(startMs).toISOString()} and ${new Date(o.endMs).toISOString()} (metrics tried: ${o.metrics
          .filter((m) => m.key !== 'startTime' && m.key !== 'memoryLimit')
          .flatMap((m) => m.names)
          .join(', ')})`,
      );
  const instances = [...byKey.values()].sort((a, b) => a.instance.localeCompare(b.instance));
  return { startMs, stepMs: o.stepMs, points, instances, found };
}
