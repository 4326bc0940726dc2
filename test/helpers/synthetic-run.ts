/**
 * Synthetic run directories and analyses for report tests and demos: a four-phase run
 * (warm-up, steady, spike, recovery) whose series look like the leaky or the patched
 * reference server, optionally with hostile text planted in everything that comes from a
 * target or a snapshot (class names, strings, property names, function names, URLs,
 * scenario and phase names, status codes, thread names).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Analysis, SeriesAnalysis, SeriesKey } from '../../common/analysis-format.js';
import { mulberry32 } from '../../common/prng.js';
import type { PhaseResult, RunManifest, Sample } from '../../common/run-format.js';

/** Texts that would run script or break out of an element if a report did not escape them. */
export const PAYLOADS = [
  '<script>window.__pwned=1</script>',
  '<img src=x onerror="window.__pwned=2">',
  '</script><script>window.__pwned=3</script>',
  '<svg onload="window.__pwned=4"></svg>',
  `'"><iframe srcdoc="<script>parent.__pwned=5</script>"></iframe>`,
  '<!-- <style>body{display:none}</style>',
  '&lt;b&gt; &amp; \u2028\u2029 end',
] as const;

export interface SyntheticRunOptions {
  readonly mode: 'leaky' | 'patched';
  /** Put PAYLOADS into every text field that comes from a target or a snapshot. */
  readonly plant?: boolean;
  readonly seed?: number;
  /** Sample interval in ms (default 250) — fewer samples keep tests fast. */
  readonly intervalMs?: number;
}

const MB = 1024 * 1024;

/** A plain-words text with payloads appended when planting. */
const p = (plant: boolean | undefined, text: string, i: number): string =>
  plant ? `${text} ${PAYLOADS[i % PAYLOADS.length]}` : text;

/**
 * Writes manifest.json, samples.ndjson, results.json and profiles/alloc.heapprofile into `dir`.
 * @example await writeSyntheticRun(dir, { mode: 'leaky', plant: true })
 */
export async function writeSyntheticRun(dir: string, o: SyntheticRunOptions): Promise<RunManifest> {
  const rand = mulberry32(o.seed ?? (o.mode === 'leaky' ? 1 : 2));
  const leaky = o.mode === 'leaky';
  const interval = o.intervalMs ?? 250;
  const phases = [
    {
      name: 'warmup',
      startMs: 0,
      endMs: 5000,
      steady: false,
      transport: 'grpc' as const,
      load: { rate: 100, durationS: 5 },
    },
    {
      name: p(o.plant, 'steady', 0),
      startMs: 5000,
      endMs: 35000,
      steady: true,
      transport: 'grpc' as const,
      load: { rate: 200, durationS: 30, shuffle: true },
    },
    {
      name: p(o.plant, 'spike', 1),
      startMs: 35000,
      endMs: 45000,
      steady: false,
      transport: 'grpc' as const,
      load: { rate: 600, durationS: 10, serviceMs: 40 },
    },
    {
      name: 'recovery',
      startMs: 45000,
      endMs: 55000,
      steady: false,
      transport: 'grpc' as const,
      load: { rate: 50, durationS: 10 },
    },
  ];
  const samples: Sample[] = [];
  let requests = 0;
  for (let t = 0; t <= 55000; t += interval) {
    const ph = phases.find((x) => t >= x.startMs && t < x.endMs) ?? phases[phases.length - 1]!;
    requests += Math.round((Number(ph.load.rate) * interval) / 1000);
    const spike = ph === phases[2];
    const cache = leaky ? Math.min(requests, 3_628_800) * 0.8 : 4;
    const saw = ((t % 4000) / 4000) * 6 * MB;
    const heap = 40 * MB + cache * 180 + saw + rand() * MB;
    const handler = spike ? (leaky ? 24 + Math.round(rand() * 6) : 8) : leaky && t >= 45000 ? 18 : 2;
    const settled = samples.length % 8 === 0;
    samples.push({
      t,
      phase: ph.name,
      requests,
      rssBytes: Math.round(140 * MB + heap * 1.3 + handler * 9 * MB + rand() * 2 * MB),
      heapUsedBytes: Math.round(settled ? heap - saw : heap),
      heapTotalBytes: Math.round(heap + 20 * MB),
      externalBytes: Math.round(3 * MB + rand() * 0.2 * MB),
      gcSettled: settled,
      threads: 11 + handler,
      threadsByName: { node: 7, [p(o.plant, 'libuv-worker', 2)]: 4, handler: handler },
      openFds: 24 + Math.round(rand() * 2),
      cacheEntries: Math.round(cache),
      cacheKeyBytes: Math.round(cache * 64),
      handlerThreads: handler,
      inflight: spike ? 24 + Math.round(rand() * 8) : Math.round(rand() * 3),
    });
  }
  const manifest: RunManifest = {
    format: 1,
    tool: { name: 'leakscope', version: '0.1.0' },
    runId: p(o.plant, `shuffled-input-${o.mode}-20261128T150000`, 2),
    scenario: {
      name: p(o.plant, 'shuffled-input', 0),
      definition: {},
      parameters: { features: 10, rate: 200, label: p(o.plant, 'p', 3), note: p(o.plant, 'n', 6) },
    },
    target: {
      kind: 'spawned',
      mode: p(o.plant, o.mode, 2),
      fixes: leaky ? [] : ['sort-inputs', 'thread-cap'],
      pid: 4242,
      grpc: '127.0.0.1:40001',
      rest: '127.0.0.1:40002',
      options: { grpc_max_threads: leaky ? null : 8 },
    },
    host: {
      cpus: 2,
      memBytes: 8 * 1024 * MB,
      platform: 'linux',
      node: 'v20.19.0',
      hostname: p(o.plant, 'ci-runner', 4),
    },
    startedAt: '2026-11-28T15:00:00.000Z',
    endedAt: '2026-11-28T15:00:55.000Z',
    status: 'complete',
    ...(o.plant ? { error: PAYLOADS[5] } : {}),
    sampleIntervalMs: interval,
    phases,
    snapshots: [
      {
        label: 'baseline',
        file: 'snapshots/baseline.heapsnapshot',
        phase: 'warmup',
        tMs: 5000,
        captureMs: 310,
        bytes: 48 * MB,
        isolate: 'main',
      },
      {
        label: 'target',
        file: 'snapshots/target.heapsnapshot',
        phase: phases[1]!.name,
        tMs: 35000,
        captureMs: 420,
        bytes: 61 * MB,
        isolate: 'main',
      },
      {
        label: 'final',
        file: p(o.plant, 'snapshots/final.heapsnapshot', 1),
        phase: 'recovery',
        tMs: 55000,
        captureMs: 430,
        bytes: 62 * MB,
        isolate: 'main',
      },
    ],
    heapProfiles: [{ file: 'profiles/alloc.heapprofile', phase: phases[1]!.name }],
    artifacts: o.plant ? { clinic: 'javascript:window.__pwned=7', log: 'logs/server.log' } : { log: 'logs/server.log' },
  };
  const result = (ph: (typeof phases)[number], i: number): PhaseResult => {
    const planned = Number(ph.load.rate) * Number(ph.load.durationS);
    const exhausted = !leaky && i === 2 ? Math.round(planned * 0.12) : 0;
    const base = i === 2 ? (leaky ? 180 : 45) : 2.1;
    const lat = (k: number) => ({
      count: planned,
      meanMs: base * k,
      p50Ms: base * k,
      p90Ms: base * 1.8 * k,
      p99Ms: base * 3.2 * k,
      p999Ms: base * 4 * k,
      maxMs: base * 6 * k,
    });
    return {
      name: ph.name,
      transport: ph.transport,
      planned,
      sent: planned,
      completed: planned,
      dropped: leaky && i === 2 ? 37 : 0,
      statusCounts: {
        OK: planned - exhausted,
        ...(exhausted ? { RESOURCE_EXHAUSTED: exhausted } : {}),
        ...(o.plant ? { [PAYLOADS[0]]: 1 } : {}),
      },
      errors: exhausted,
      achievedRate: Number(ph.load.rate) * 0.998,
      latencyFromIntended: lat(1.4),
      latencyFromSent: lat(1),
    };
  };
  const profile = {
    head: {
      callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 },
      selfSize: 0,
      children: [
        {
          callFrame: {
            functionName: p(o.plant, 'getOrCreateExecutors', 0),
            url: p(o.plant, 'file:///srv/server/session.js', 1),
            lineNumber: 87,
            columnNumber: 4,
          },
          selfSize: leaky ? 9 * MB : 0.2 * MB,
          children: [
            {
              callFrame: { functionName: 'join', url: '', lineNumber: -1, columnNumber: -1 },
              selfSize: leaky ? 6 * MB : 0.1 * MB,
              children: [],
            },
          ],
        },
        {
          callFrame: {
            functionName: p(o.plant, 'decodeTensor', 3),
            url: 'file:///srv/server/tensors.js',
            lineNumber: 12,
            columnNumber: 2,
          },
          selfSize: 2 * MB,
          children: [
            {
              callFrame: { functionName: 'join', url: '', lineNumber: -1, columnNumber: -1 },
              selfSize: 0.5 * MB,
              children: [],
            },
          ],
        },
      ],
    },
    samples: [],
  };
  await mkdir(join(dir, 'profiles'), { recursive: true });
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  await writeFile(join(dir, 'samples.ndjson'), samples.map((s) => JSON.stringify(s)).join('\n') + '\n');
  await writeFile(join(dir, 'results.json'), JSON.stringify({ format: 1, phases: phases.map(result) }, null, 2));
  await writeFile(join(dir, 'profiles', 'alloc.heapprofile'), JSON.stringify(profile));
  return manifest;
}

/**
 * An analysis of a synthetic run with the shape the analyzer writes (values invented, texts planted when asked).
 * @example const a = syntheticAnalysis({ mode: 'leaky', plant: true })
 */
export function syntheticAnalysis(o: SyntheticRunOptions): Analysis {
  const leaky = o.mode === 'leaky';
  const s = (
    key: SeriesKey,
    label: string,
    unit: 'bytes' | 'count',
    perReq: number,
    start: number,
    i: number,
  ): SeriesAnalysis => {
    const grows = leaky && perReq > 0;
    const est = grows ? perReq : perReq * 0.02;
    return {
      key,
      label,
      unit,
      settledOnly: key === 'heapUsedSettledBytes',
      n: 120,
      phases: ['steady'],
      requestSpan: 6000,
      durationMs: 30000,
      perRequest: { estimate: est, low: est * 0.9 - 0.01, high: est * 1.1 + 0.01, confidence: 0.95 },
      perSecond: { estimate: est * 200, low: est * 180, high: est * 220, confidence: 0.95 },
      trend: {
        test: 'mann-kendall',
        s: grows ? 6000 : 40,
        variance: 1e5,
        z: grows ? 19 : 0.2,
        pValue: grows ? 1e-9 : 0.84,
        tau: grows ? 0.83 : 0.01,
      },
      start,
      end: start + est * 6000,
      peak: start + est * 6000 * 1.02,
      relativeGrowth: (est * 6000) / start,
      threshold: {
        alpha: 0.01,
        minPerRequest: unit === 'bytes' ? 64 : 0.01,
        minPerSecond: unit === 'bytes' ? 16384 : 0.05,
        minRelativeGrowth: 0.1,
        negligiblePerRequest: unit === 'bytes' ? 32 : 0.005,
        negligiblePerSecond: unit === 'bytes' ? 8192 : 0.02,
      },
      verdict: grows ? 'LEAK' : 'STABLE',
      reason: p(
        o.plant,
        grows
          ? `${label} grows ${Math.round(est)} per request (95% CI), Mann-Kendall p<0.001`
          : `${label}: no significant trend (p=0.84)`,
        i,
      ),
    };
  };
  const series = [
    s('rssBytes', 'RSS', 'bytes', 412, 230 * MB, 0),
    s('heapUsedSettledBytes', p(o.plant, 'V8 heap used (GC-settled)', 1), 'bytes', 150, 42 * MB, 1),
    s('cacheEntries', 'Executor-cache entries', 'count', 0.8, 400, 2),
    s('handlerThreads', 'Handler threads', 'count', 0, 2, 3),
  ];
  const cls = p(o.plant, 'ExecutorEntry', 0);
  const path = p(
    o.plant,
    'global → session (Object) → SessionCache.executors (Map) → table → "user_age,item_id->prob//0/"',
    1,
  );
  return {
    format: 1,
    tool: { name: 'leakscope', version: '0.1.0' },
    analyzedAt: '2026-11-28T15:01:00.000Z',
    run: {
      dir: '/tmp/x',
      runId: 'r',
      scenario: p(o.plant, 'shuffled-input', 0),
      mode: o.mode,
      status: 'complete',
      startedAt: '2026-11-28T15:00:00.000Z',
      endedAt: '2026-11-28T15:00:55.000Z',
      sampleCount: 221,
      steadyPhases: [p(o.plant, 'steady', 0)],
      requests: 16000,
    },
    settings: { confidence: 0.95, alpha: 0.01, minSamples: 12, maxPairsSamples: 600 },
    overall: {
      verdict: leaky ? 'LEAK' : 'STABLE',
      headline: leaky
        ? p(o.plant, 'RSS grows 412 B/request ±41; executor cache keys retain 96% of the growth', 2)
        : p(o.plant, 'No leak: every series is stable over 6,000 steady requests', 2),
      leaking: leaky ? ['rssBytes', 'heapUsedSettledBytes', 'cacheEntries'] : [],
      threadProblem: leaky,
      culprit: leaky
        ? {
            className: cls,
            heldBy: p(o.plant, 'SessionCache.executors.table', 3),
            path,
            retainedSize: 23.1 * MB,
            count: 4800,
            growthShare: 0.96,
            growthBasis: 'heap growth baseline → final: 24.1 MiB',
          }
        : null,
    },
    series,
    threads: {
      source: 'handlerThreads',
      spikePhase: p(o.plant, 'spike', 1),
      recoveryPhase: 'recovery',
      baseline: 2,
      peak: leaky ? 30 : 8,
      peakTMs: 41000,
      plateau: leaky ? 27 : 8,
      afterRecovery: leaky ? 18 : 2,
      peakInflight: 32,
      threadsPerInflight: {
        estimate: leaky ? 0.94 : 0.05,
        low: leaky ? 0.85 : 0,
        high: leaky ? 1.02 : 0.1,
        confidence: 0.95,
      },
      extraThreadsPerInflightAtPeak: leaky ? 0.88 : 0.19,
      cameBackDown: !leaky,
      bounded: !leaky,
      groups: [
        {
          name: p(o.plant, 'handler', 4),
          baseline: 2,
          peak: leaky ? 30 : 8,
          after: leaky ? 18 : 2,
          grew: true,
          cameBackDown: !leaky,
        },
      ],
      reason: leaky
        ? p(
            o.plant,
            'handler threads rose with in-flight requests (0.94 per request) and stayed at 18 after the spike',
            5,
          )
        : 'handler threads capped at 8 during the spike and returned to 2',
    },
    heap: {
      snapshots: {
        baseline: 'snapshots/baseline.heapsnapshot',
        target: 'snapshots/target.heapsnapshot',
        final: p(o.plant, 'snapshots/final.heapsnapshot', 1),
      },
      diff: {
        before: { file: 'snapshots/baseline.heapsnapshot', nodeCount: 310000, totalSize: 38 * MB },
        after: {
          file: 'snapshots/final.heapsnapshot',
          nodeCount: leaky ? 340000 : 311000,
          totalSize: leaky ? 62 * MB : 38.4 * MB,
        },
        rows: [
          {
            className: p(o.plant, '(string)', 0),
            newCount: 4900,
            deletedCount: 100,
            deltaCount: 4800,
            allocSize: 14 * MB,
            freedSize: 0.1 * MB,
            deltaSize: 13.9 * MB,
          },
          {
            className: cls,
            newCount: 4800,
            deletedCount: 0,
            deltaCount: 4800,
            allocSize: 6 * MB,
            freedSize: 0,
            deltaSize: 6 * MB,
          },
          {
            className: p(o.plant, 'Map', 3),
            newCount: 2,
            deletedCount: 1,
            deltaCount: 1,
            allocSize: 3 * MB,
            freedSize: 0.1 * MB,
            deltaSize: 2.9 * MB,
          },
        ],
        changedClassCount: 41,
        totals: {
          newCount: 9702,
          deletedCount: 101,
          deltaCount: 9601,
          allocSize: 23 * MB,
          freedSize: 0.2 * MB,
          deltaSize: 22.8 * MB,
        },
      },
      leaks: leaky
        ? {
            candidateCount: 9600,
            candidateRetainedSize: 23.5 * MB,
            groups: [
              {
                className: p(o.plant, '(string)', 0),
                count: 4800,
                selfSize: 14 * MB,
                retainedSize: 14 * MB,
                heldBy: p(o.plant, 'SessionCache.executors.table', 3),
                path,
                steps: [],
              },
              {
                className: cls,
                count: 4800,
                selfSize: 6 * MB,
                retainedSize: 9.1 * MB,
                heldBy: 'SessionCache.executors.table',
                path: p(
                  o.plant,
                  'global → session (Object) → SessionCache.executors (Map) → table → ExecutorEntry@1234',
                  6,
                ),
                steps: [],
              },
            ],
            byClass: [{ className: cls, count: 4800, selfSize: 6 * MB, retainedSize: 9.1 * MB }],
          }
        : null,
      ...(o.plant ? { note: PAYLOADS[4] } : {}),
    },
    phases: [],
    warnings: o.plant ? [PAYLOADS[6]] : [],
  };
}

/**
 * A leaky and a patched synthetic run in `dir`/leaky and `dir`/patched.
 * @example const { leaky, patched } = await writeSyntheticPair(dir, { plant: true })
 */
export async function writeSyntheticPair(
  dir: string,
  o: Omit<SyntheticRunOptions, 'mode'> = {},
): Promise<{ leaky: string; patched: string }> {
  const leaky = join(dir, 'leaky');
  const patched = join(dir, 'patched');
  await mkdir(leaky, { recursive: true });
  await mkdir(patched, { recursive: true });
  await writeSyntheticRun(leaky, { ...o, mode: 'leaky' });
  await writeSyntheticRun(patched, { ...o, mode: 'patched' });
  return { leaky, patched };
}
