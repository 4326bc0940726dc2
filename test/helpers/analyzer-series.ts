/** Synthetic series and run directories for the analyzer and gate tests. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { mulberry32 } from '../../common/prng.js';
import type { PhaseRecord, PhaseResult, RunManifest, Sample } from '../../common/run-format.js';
import type { SeriesPoint } from '../../analyzer/series/trend.js';

/** Requests per sample in synthetic series (200 req/s sampled every 250 ms). */
export const REQ_PER_SAMPLE = 50;
export const INTERVAL_MS = 250;

/** Standard normal draws from a seeded generator (Box–Muller). */
export function gaussian(seed: number): () => number {
  const r = mulberry32(seed);
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** A 0..1 sawtooth of `period` samples, shifted by `phase` samples. */
export const sawtooth = (i: number, period: number, phase: number): number => ((i + phase) % period) / period;

/**
 * n points, one every INTERVAL_MS with REQ_PER_SAMPLE requests each.
 * @example series(100, (i, req) => 1e6 + 300 * req)
 */
export function series(n: number, value: (i: number, requests: number) => number): SeriesPoint[] {
  return Array.from({ length: n }, (_, i) => ({
    t: i * INTERVAL_MS,
    requests: i * REQ_PER_SAMPLE,
    value: value(i, i * REQ_PER_SAMPLE),
  }));
}

/**
 * A GC-like heap: a sawtooth of `amplitude` bytes whose period jitters (a scavenge every
 * 12–20 samples), plus white noise, plus `leakPerRequest` bytes per request.
 */
export function gcHeap(
  n: number,
  seed: number,
  leakPerRequest: number,
  base = 40 * 2 ** 20,
  amplitude = 6 * 2 ** 20,
): SeriesPoint[] {
  const r = mulberry32(seed);
  const g = gaussian(seed + 1000);
  let sinceGc = Math.floor(r() * 16);
  let period = 12 + Math.floor(r() * 9);
  return series(n, (_i, req) => {
    if (++sinceGc >= period) {
      sinceGc = 0;
      period = 12 + Math.floor(r() * 9);
    }
    return base + (sinceGc / period) * amplitude + 0.3 * 2 ** 20 * g() + leakPerRequest * req;
  });
}

export interface RunDirSpec {
  readonly phases: readonly (Omit<PhaseRecord, 'transport' | 'load'> & {
    transport?: PhaseRecord['transport'];
    load?: PhaseRecord['load'];
  })[];
  readonly samples: readonly Sample[];
  readonly results?: readonly Partial<PhaseResult>[];
  readonly mode?: string;
  readonly snapshots?: RunManifest['snapshots'];
}

/**
 * Writes manifest.json, samples.ndjson and results.json (common/run-format.ts) into `dir`.
 * @example await writeRunDir(dir, { phases, samples })
 */
export async function writeRunDir(dir: string, spec: RunDirSpec): Promise<void> {
  await mkdir(dir, { recursive: true });
  const phases: PhaseRecord[] = spec.phases.map((p) => ({ transport: 'grpc', load: {}, ...p }));
  const manifest: RunManifest = {
    format: 1,
    tool: { name: 'leakscope', version: '0.1.0' },
    runId: `test-${spec.mode ?? 'patched'}`,
    scenario: { name: 'synthetic', definition: {}, parameters: {} },
    target: {
      kind: 'spawned',
      mode: spec.mode ?? 'patched',
      fixes: [],
      pid: 1,
      grpc: '127.0.0.1:1',
      rest: '127.0.0.1:2',
    },
    host: { cpus: 2, memBytes: 2 ** 33, platform: 'linux', node: process.version, hostname: 'test' },
    startedAt: '2026-11-28T15:00:00.000Z',
    endedAt: '2026-11-28T15:05:00.000Z',
    status: 'complete',
    sampleIntervalMs: INTERVAL_MS,
    phases,
    snapshots: spec.snapshots ?? [],
    heapProfiles: [],
  };
  const results = (spec.results ?? phases.map((p) => ({ name: p.name }))).map((r) => ({
    name: 'steady',
    transport: 'grpc',
    planned: 1000,
    sent: 1000,
    completed: 1000,
    dropped: 0,
    statusCounts: { OK: 1000 },
    errors: 0,
    achievedRate: 200,
    latencyFromIntended: { count: 1000, meanMs: 3, p50Ms: 2, p90Ms: 4, p99Ms: 9, p999Ms: 15, maxMs: 20 },
    ...r,
  }));
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(dir, 'samples.ndjson'), spec.samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  await writeFile(join(dir, 'results.json'), JSON.stringify({ format: 1, phases: results }, null, 2));
}

/**
 * Samples of a four-phase run (warmup 5 s, steady 60 s, spike 10 s, recovery 15 s) that
 * looks like the reference server: leaky = heap and executor cache grow per request and
 * threads follow in-flight load without coming back; patched = flat under GC noise, cap 8.
 */
export function referenceLikeRun(leaky: boolean, seed: number): Pick<RunDirSpec, 'phases' | 'samples'> {
  const phases = [
    { name: 'warmup', startMs: 0, endMs: 5000, steady: false },
    { name: 'steady', startMs: 5000, endMs: 65_000, steady: true },
    { name: 'spike', startMs: 65_000, endMs: 75_000, steady: false },
    { name: 'recovery', startMs: 75_000, endMs: 90_000, steady: false },
  ];
  const heap = gcHeap(360, seed, leaky ? 300 : 0);
  const r = mulberry32(seed + 7);
  const samples: Sample[] = heap.map((p, i) => {
    const phase = phases.find((ph) => p.t >= ph.startMs && p.t < ph.endMs)!.name;
    const inflight = phase === 'spike' ? 40 + Math.round(r() * 20) : Math.round(r() * 3);
    const handler =
      phase === 'spike'
        ? leaky
          ? inflight
          : Math.min(8, inflight)
        : phase === 'recovery' && leaky
          ? 40
          : Math.min(2, inflight);
    const settled = i % 8 === 0;
    const warm = phase === 'warmup' ? (i / 20) * 30 * 2 ** 20 : 30 * 2 ** 20; // warm-up ramp, excluded from verdicts
    const heapUsed = p.value + warm - 30 * 2 ** 20;
    return {
      t: p.t,
      phase,
      requests: p.requests,
      rssBytes: Math.round(150 * 2 ** 20 + heapUsed + handler * 9 * 2 ** 20 + r() * 2 ** 20),
      heapUsedBytes: Math.round(
        settled ? heapUsed - (p.value - 40 * 2 ** 20 - (leaky ? 300 * p.requests : 0)) * 0.9 : heapUsed,
      ),
      gcSettled: settled,
      threads: 11 + handler,
      threadsByName: { node: 11 + handler },
      handlerThreads: handler,
      inflight,
      cacheEntries: leaky ? 1 + Math.round(0.9 * p.requests) : 1,
      openFds: 24 + Math.round(r() * 2),
    };
  });
  return { phases, samples };
}
