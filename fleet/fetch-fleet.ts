/**
 * A fleet's history from Prometheus, assembled per instance on one time grid: for each
 * metric one range query per selector (paged), its series combined per instance as they
 * arrive (label sets of one metric name summed or maxed, then the largest of the
 * alternative names) into a Float64Array per instance and metric (NaN where nothing was
 * scraped).
 */
import { LsError } from '../common/errors.js';
import { type FleetMetric, type FleetMetricKey, metricQuery } from './fleet-metrics.js';
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

/** Adds a page's values into `arr`: summed or maxed with what other label sets of the same name put there. */
function combineInto(
  arr: Float64Array,
  values: readonly (readonly [number, string])[],
  within: 'sum' | 'max',
  startMs: number,
  stepMs: number,
): void {
  for (const [t, text] of values) {
    const i = Math.round((t * 1000 - startMs) / stepMs);
    if (i < 0 || i >= arr.length) continue;
    const v = Number(text);
    const prev = arr[i]!;
    arr[i] = Number.isNaN(prev) ? v : within === 'sum' ? prev + v : Math.max(prev, v);
  }
}

/** Per point the largest of the alternative names' series (one name: that series). */
function largestOf(arrays: readonly Float64Array[]): Float64Array {
  const out = arrays[0]!;
  for (const a of arrays.slice(1))
    for (let i = 0; i < out.length; i++) if (Number.isNaN(out[i]!) || a[i]! > out[i]!) out[i] = a[i]!;
  return out;
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
  // Per instance, metric and metric name: label sets of one name combine as the metric says.
  const byName = new Map<InstanceSeries, Map<FleetMetricKey, Map<string, Float64Array>>>();
  // Each query is the plain selector (metricQuery): its series are combined per instance
  // here rather than by `max by`/`sum by` in PromQL, which costs Prometheus 3–4× the time
  // of the plain selector at every step of a long range (measured on the bench:fleet store).
  await Promise.all(
    o.selectors.flatMap((sel) =>
      o.metrics.map((m) =>
        client.queryRange(metricQuery(m, sel.matchers), startMs, o.endMs, o.stepMs, (labels, values) => {
          const name = labels[o.groupBy];
          if (name === undefined || values.length === 0) return;
          let inst = byKey.get(name);
          if (!inst) {
            inst = { instance: name, ...(sel.group ? { group: sel.group } : {}), values: new Map() };
            byKey.set(name, inst);
            byName.set(inst, new Map());
          } else if (inst.group !== sel.group) {
            throw new LsError(
              'LS_ERR_INVALID_OPTION',
              `${o.groupBy}="${name}" is matched by both --canary and --baseline; the groups must not overlap`,
            );
          }
          const names = byName.get(inst)!;
          let perName = names.get(m.key);
          if (!perName) {
            perName = new Map();
            names.set(m.key, perName);
            if (m.key !== 'startTime' && m.key !== 'memoryLimit')
              seenBySelector.set(sel, (seenBySelector.get(sel) ?? 0) + 1);
          }
          const metricName = labels.__name__ ?? '';
          let arr = perName.get(metricName);
          if (!arr) {
            arr = new Float64Array(points).fill(NaN);
            perName.set(metricName, arr);
          }
          found.add(m.key);
          combineInto(arr, values, m.within, startMs, o.stepMs);
        }),
      ),
    ),
  );
  for (const [inst, names] of byName)
    for (const [key, perName] of names) inst.values.set(key, largestOf([...perName.values()]));
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
