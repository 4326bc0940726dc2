/**
 * Synthetic serving fleets in OpenMetrics text, for `promtool tsdb create-blocks-from
 * openmetrics`: per instance a request counter (load that varies through the hour), RSS
 * and V8 heap with a GC sawtooth, noise and a warm-up after each start, executor-cache
 * entries, the process start time and the container's memory limit; optionally a leak
 * (bytes and cache entries per request), planned restarts (counter reset, new start
 * time) and OOM kills (a restart when RSS reaches the limit). Deterministic per seed.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { mixSeed, mulberry32 } from '../../common/prng.js';
import type { FleetData, InstanceSeries } from '../../fleet/fetch-fleet.js';
import type { FleetMetricKey } from '../../fleet/fleet-metrics.js';
import { gaussian } from './analyzer-series.js';

export interface SyntheticInstance {
  readonly instance: string;
  readonly labels?: Readonly<Record<string, string>>;
  /** RSS growth per request (bytes); the heap grows by 60 % of it. */
  readonly leakBytesPerRequest?: number;
  /** Executor-cache entries added per request. */
  readonly cacheEntriesPerRequest?: number;
  /** Restarts at these fractions of the range (0..1). */
  readonly restartsAt?: readonly number[];
  /** Container memory limit: exported, and RSS reaching it restarts the process (an OOM kill). */
  readonly limitBytes?: number;
  /** Mean requests per second (default 20). */
  readonly ratePerSecond?: number;
  readonly seed: number;
}

export interface SyntheticFleetOptions {
  readonly job: string;
  readonly startSec: number;
  readonly endSec: number;
  readonly stepSec: number;
  /** Metric families to write (default all). */
  readonly metrics?: readonly SyntheticMetric[];
}

export type SyntheticMetric = 'requests' | 'rss' | 'heap' | 'cache' | 'start' | 'limit';

const FAMILIES: Readonly<Record<SyntheticMetric, { name: string; type: string; sample: string }>> = {
  requests: { name: 'leakscope_requests', type: 'counter', sample: 'leakscope_requests_total' },
  rss: { name: 'process_resident_memory_bytes', type: 'gauge', sample: 'process_resident_memory_bytes' },
  heap: { name: 'nodejs_heap_size_used_bytes', type: 'gauge', sample: 'nodejs_heap_size_used_bytes' },
  cache: { name: 'leakscope_executor_cache_entries', type: 'gauge', sample: 'leakscope_executor_cache_entries' },
  start: { name: 'process_start_time_seconds', type: 'gauge', sample: 'process_start_time_seconds' },
  limit: { name: 'container_spec_memory_limit_bytes', type: 'gauge', sample: 'container_spec_memory_limit_bytes' },
};

interface Step {
  readonly t: number;
  readonly requests: number;
  readonly rss: number;
  readonly heap: number;
  readonly cache: number;
  readonly start: number;
}

/** One instance's history, step by step (the same for every family: same seed). */
function* simulate(inst: SyntheticInstance, o: SyntheticFleetOptions): Generator<Step> {
  const rand = mulberry32(mixSeed(inst.seed, 1));
  const noise = gaussian(mixSeed(inst.seed, 2));
  const rate = inst.ratePerSecond ?? 20;
  const base = 180e6 + rand() * 60e6;
  const heapBase = 50e6 + rand() * 20e6;
  const gcPeriod = 240 + rand() * 240;
  const phase = rand() * gcPeriod;
  const restarts = (inst.restartsAt ?? []).map((f) => o.startSec + f * (o.endSec - o.startSec));
  let start = o.startSec - 3600 - Math.floor(rand() * 86_400);
  let counter = Math.floor(rand() * 1e6);
  let sinceStart = 0;
  let oomNext = false;
  for (let t = o.startSec; t <= o.endSec; t += o.stepSec) {
    if (oomNext || (restarts.length && t >= restarts[0]!)) {
      if (!oomNext) restarts.shift();
      oomNext = false;
      start = t - o.stepSec * rand();
      counter = 0;
      sinceStart = 0;
    }
    const load = rate * (1 + 0.25 * Math.sin((2 * Math.PI * t) / 3600 + inst.seed));
    const add = Math.max(0, load * o.stepSec * (1 + 0.05 * noise()));
    counter += add;
    sinceStart += add;
    const age = t - start;
    const warm = 1 - Math.exp(-age / 120);
    const saw = ((t + phase) % gcPeriod) / gcPeriod;
    const leak = inst.leakBytesPerRequest ?? 0;
    const rss = base + 20e6 * warm + 12e6 * saw + 1.5e6 * noise() + leak * sinceStart;
    const heap = heapBase + 8e6 * warm + 18e6 * saw + 0.8e6 * noise() + 0.6 * leak * sinceStart;
    const cache = 1 + Math.floor((inst.cacheEntriesPerRequest ?? 0) * sinceStart);
    if (inst.limitBytes !== undefined && rss >= inst.limitBytes * 0.97) oomNext = true;
    yield { t, requests: Math.floor(counter), rss: Math.round(rss), heap: Math.round(heap), cache, start };
  }
}

const labelText = (job: string, inst: SyntheticInstance) =>
  Object.entries({ job, instance: inst.instance, ...inst.labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',');

/**
 * Writes the fleet as an OpenMetrics file, family by family (as the format requires),
 * streaming: a 1,000-instance day never sits in memory.
 * @example await writeSyntheticFleet('fleet.om', instances, { job: 'serving', startSec, endSec, stepSec: 15 })
 */
export async function writeSyntheticFleet(
  file: string,
  instances: readonly SyntheticInstance[],
  o: SyntheticFleetOptions,
): Promise<void> {
  const out = createWriteStream(file);
  let buf = '';
  const flush = async () => {
    if (!out.write(buf)) await once(out, 'drain');
    buf = '';
  };
  for (const m of o.metrics ?? (Object.keys(FAMILIES) as SyntheticMetric[])) {
    const f = FAMILIES[m];
    buf += `# TYPE ${f.name} ${f.type}\n`;
    for (const inst of instances) {
      if (m === 'limit' && inst.limitBytes === undefined) continue;
      const labels = labelText(o.job, inst);
      for (const s of simulate(inst, o)) {
        const v = m === 'limit' ? inst.limitBytes! : m === 'requests' ? s.requests : s[m];
        buf += `${f.sample}{${labels}} ${v} ${s.t}\n`;
        if (buf.length > 1 << 20) await flush();
      }
    }
  }
  buf += '# EOF\n';
  await flush();
  out.end();
  await once(out, 'finish');
}

/**
 * The same fleet as FleetData on the grid, without Prometheus (for the report tests):
 * instances whose `labels.track` is 'canary' or 'baseline' are put in that group.
 * @example judgeFleet(syntheticFleetData(instances, opts), …)
 */
export function syntheticFleetData(instances: readonly SyntheticInstance[], o: SyntheticFleetOptions): FleetData {
  const points = Math.floor((o.endSec - o.startSec) / o.stepSec) + 1;
  const out: InstanceSeries[] = instances.map((inst) => {
    const cols: Record<string, Float64Array> = {};
    for (const k of ['requests', 'rssBytes', 'heapUsedBytes', 'cacheEntries', 'startTime'])
      cols[k] = new Float64Array(points);
    let i = 0;
    for (const s of simulate(inst, o)) {
      cols.requests![i] = s.requests;
      cols.rssBytes![i] = s.rss;
      cols.heapUsedBytes![i] = s.heap;
      cols.cacheEntries![i] = s.cache;
      cols.startTime![i] = s.start;
      i++;
    }
    const track = inst.labels?.track;
    return {
      instance: inst.instance,
      ...(track === 'canary' || track === 'baseline' ? { group: track } : {}),
      values: new Map(Object.entries(cols) as [FleetMetricKey, Float64Array][]),
    };
  });
  return {
    startMs: o.startSec * 1000,
    stepMs: o.stepSec * 1000,
    points,
    instances: out,
    found: new Set<FleetMetricKey>(['requests', 'rssBytes', 'heapUsedBytes', 'cacheEntries', 'startTime']),
  };
}
