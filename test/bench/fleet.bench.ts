/**
 * bench:fleet — `leakscope fleet` over a day of a 1,000-pod fleet in a real Prometheus:
 * 1,000 instances × 24 h at 15 s (5,760 points per series; request counter, RSS, V8 heap
 * and process start time, 23 M samples) backfilled with promtool, a known 5 % leaking
 * (400–1,000 B/request) and 2 % restarted once. The fleet judgement runs in a child
 * process, side by side: the default (step auto, fetch concurrency 4), concurrency 1, and
 * the full 15 s resolution; printed: wall time
 * and peak RSS against the goals (≤ 60 s, ≤ 1 GB), the requests made to Prometheus, and
 * detection (planted leaks found) and false alarms (LEAK on a healthy pod).
 * LEAKSCOPE_BENCH_FLEET_INSTANCES=100 makes a quick run.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { FleetResult } from '../../common/fleet-format.js';
import { mixSeed, mulberry32 } from '../../common/prng.js';
import { backfill, prometheusMissing, startPrometheus } from '../../pipeline/prometheus-server.js';
import { type SyntheticInstance, writeSyntheticFleet } from '../helpers/synthetic-fleet.js';

const N = Number(process.env.LEAKSCOPE_BENCH_FLEET_INSTANCES ?? 1000);
const HOURS = 24;
const STEP = 15;
const GOAL_S = 60;
const GOAL_BYTES = 2 ** 30;

const missing = prometheusMissing();
if (missing) {
  console.error(`bench:fleet needs Prometheus: ${missing}`);
  process.exit(2);
}

const rand = mulberry32(mixSeed(2026, 14));
const instances: SyntheticInstance[] = Array.from({ length: N }, (_, i) => {
  const leaking = i % 20 === 7;
  const restarts = !leaking && i % 50 === 3;
  return {
    instance: `pod-${String(i).padStart(4, '0')}`,
    ...(leaking ? { leakBytesPerRequest: 400 + 600 * rand() } : {}),
    ...(restarts ? { restartsAt: [0.2 + 0.6 * rand()] } : {}),
    ratePerSecond: 10 + 30 * rand(),
    seed: i + 1,
  };
});
const planted = new Set(instances.filter((i) => i.leakBytesPerRequest).map((i) => i.instance));
const end = Math.floor(Date.now() / 3_600_000) * 3600 - 3600;
const dir = await mkdtemp(join(tmpdir(), 'leakscope-bench-fleet-'));
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
try {
  let t = performance.now();
  const om = join(dir, 'fleet.om');
  await writeSyntheticFleet(om, instances, {
    job: 'bench',
    startSec: end - HOURS * 3600,
    endSec: end,
    stepSec: STEP,
    metrics: ['requests', 'rss', 'heap', 'start'],
  });
  const genMs = performance.now() - t;
  t = performance.now();
  await backfill(om, join(dir, 'data'));
  const backfillMs = performance.now() - t;
  await rm(om);
  const prom = await startPrometheus({ dataDir: join(dir, 'data'), startTimeoutMs: 300_000 });
  const runs: {
    concurrency: number;
    step: string;
    wallMs: number;
    maxRssBytes: number;
    requests: number;
    peakConcurrency: number;
    result: FleetResult;
  }[] = [];
  try {
    for (const [concurrency, step] of [
      [4, 'auto'],
      [1, 'auto'],
      [4, `${STEP}s`],
    ] as const) {
      const out = join(dir, `result-${runs.length}.json`);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          join(import.meta.dirname, 'fleet-child.js'),
          prom.url,
          '{job="bench"}',
          `${HOURS}h`,
          step,
          String(end),
          String(concurrency),
          out,
        ],
        { maxBuffer: 1 << 20 },
      );
      const m = JSON.parse(stdout) as Omit<(typeof runs)[number], 'result' | 'concurrency' | 'step'>;
      runs.push({ concurrency, step, ...m, result: JSON.parse(await readFile(out, 'utf8')) as FleetResult });
    }
  } finally {
    await prom.stop();
  }
  console.log(
    `bench:fleet — ${N} instances × ${HOURS} h at ${STEP} s (${((N * HOURS * 3600) / STEP / 1e6).toFixed(2)} M points per metric, 4 metrics), ${planted.size} leaking; machine shared and loaded: read ratios`,
  );
  console.log(`  set-up: OpenMetrics written in ${s(genMs)}, promtool backfill ${s(backfillMs)}`);
  console.log(
    '  step (s) | concurrency | wall time | vs 60 s goal | peak RSS | vs 1 GB goal | Prometheus requests | leaks found | false alarms | GROWING',
  );
  for (const r of runs) {
    const leak = new Set(r.result.instances.filter((i) => i.verdict === 'LEAK').map((i) => i.instance));
    const found = [...planted].filter((p) => leak.has(p)).length;
    const falseAlarms = [...leak].filter((p) => !planted.has(p));
    const growing = r.result.instances.filter((i) => i.verdict === 'GROWING').length;
    console.log(
      `  ${String(r.result.query.stepSeconds).padStart(8)} | ${String(r.concurrency).padStart(11)} | ${s(r.wallMs).padStart(9)} | ${(r.wallMs / 1000 / GOAL_S).toFixed(2).padStart(12)} | ${(r.maxRssBytes / 2 ** 20).toFixed(0).padStart(5)} MB | ${(r.maxRssBytes / GOAL_BYTES).toFixed(2).padStart(12)} | ${String(r.requests).padStart(19)} | ${`${found}/${planted.size}`.padStart(11)} | ${String(falseAlarms.length).padStart(12)} | ${String(growing).padStart(7)}`,
    );
    if (falseAlarms.length) console.log(`    false alarms: ${falseAlarms.slice(0, 10).join(', ')}`);
    const missed = [...planted].filter((p) => !leak.has(p));
    if (missed.length) console.log(`    missed: ${missed.slice(0, 10).join(', ')}`);
  }
  const [four, one, full] = runs;
  console.log(`  wall time, concurrency 4 / concurrency 1: ${(four!.wallMs / one!.wallMs).toFixed(2)}`);
  console.log(
    `  step auto / step ${STEP} s: wall time ${(four!.wallMs / full!.wallMs).toFixed(2)}, peak RSS ${(four!.maxRssBytes / full!.maxRssBytes).toFixed(2)}`,
  );
  console.log(
    `  restarts seen: ${four!.result.counts.restarts} (planted ${instances.filter((i) => i.restartsAt).length}); peak requests in flight: ${four!.peakConcurrency} (bound 4)`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
