/**
 * bench:driver — is the gRPC load driver ever the bottleneck?
 *
 * 1. Steps the open-model driver's rate up against a trivial grpc-js server (child
 *    process, loopback) until a step is no longer sustained (drops, unanswered requests,
 *    or p99 from the intended time above 50 ms), and reports the driver's CPU per request.
 * 2. Does the same against the reference server's Predict (`leakscope serve`, CTR model,
 *    fixed input order), with the same driver and criterion.
 * Both are printed side by side, with the driver's share of one core at the reference
 * server's top rate.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import { openGrpcChannels, startGrpcPhase } from '../../scenarios/grpc-driver.js';
import { planArrivals } from '../../scenarios/schedule.js';
import { TfServingClient } from '../../scenarios/tf-client.js';
import { inputSpecsFromMetadata, predictRequests } from '../../scenarios/predict-requests.js';
import { TRIVIAL_PATH } from '../helpers/trivial-grpc-server.js';
import { closedLoop } from './load-loop.js';
import { spawnCtrServe, spawnTarget } from '../helpers/spawn-target.js';

const STEP_S = Number(process.env['STEP_S'] ?? 3);
/** A step's p99 (from intended) may reach this, or 10x the first step's p99, before it counts as blown up. */
const P99_FLOOR_MS = 50;

interface Step {
  readonly rate: number;
  readonly achieved: number;
  readonly dropped: number;
  readonly completed: number;
  readonly planned: number;
  readonly p50: number;
  readonly p99: number;
  readonly p99Sent: number;
  readonly cpuUs: number;
  readonly ok: boolean;
}

async function step(
  clients: readonly grpc.Client[],
  path: string,
  request: (i: number) => Buffer,
  rate: number,
  p99LimitMs: number,
): Promise<Step> {
  const schedule = planArrivals({ kind: 'constant', rate, durationS: STEP_S });
  const r = await startGrpcPhase({
    name: `rate-${rate}`,
    clients,
    path,
    schedule,
    request,
    maxInflight: 2000,
    drainMs: 5000,
  }).done;
  const fi = r.latencyFromIntended;
  const okCount = r.statusCounts['OK'] ?? 0;
  const ok =
    r.dropped <= r.planned * 0.001 &&
    okCount >= r.planned * 0.999 &&
    r.achievedRate >= rate * 0.9 &&
    (fi?.p99Ms ?? Infinity) <= p99LimitMs;
  return {
    rate,
    achieved: r.achievedRate,
    dropped: r.dropped,
    completed: r.completed,
    planned: r.planned,
    p50: fi?.p50Ms ?? NaN,
    p99: fi?.p99Ms ?? NaN,
    p99Sent: r.latencyFromSent?.p99Ms ?? NaN,
    cpuUs: r.driverCpuUsPerRequest ?? NaN,
    ok,
  };
}

/** Doubles the rate from `start` until a step fails; then tries the midpoint once. */
async function rampUp(
  label: string,
  address: string,
  path: string,
  request: (i: number) => Buffer,
  start: number,
  max: number,
): Promise<{ best?: Step; steps: Step[] }> {
  // Channels opened and warmed once, as a runner keeps them across phases.
  const clients = openGrpcChannels(address, 4);
  try {
    await startGrpcPhase({
      name: 'warm',
      clients,
      path,
      schedule: planArrivals({ kind: 'constant', rate: Math.min(start, 200), durationS: 1 }),
      request,
    }).done;
    return await rampSteps(label, clients, path, request, start, max);
  } finally {
    for (const c of clients) c.close();
  }
}

async function rampSteps(
  label: string,
  clients: readonly grpc.Client[],
  path: string,
  request: (i: number) => Buffer,
  start: number,
  max: number,
): Promise<{ best?: Step; steps: Step[] }> {
  const steps: Step[] = [];
  let best: Step | undefined;
  let rate = start;
  let limit = Infinity;
  const show = (s: Step) =>
    console.log(
      `  ${label.padEnd(10)} rate ${String(s.rate).padStart(6)}/s  achieved ${s.achieved.toFixed(0).padStart(6)}/s  dropped ${String(s.dropped).padStart(5)}  p50 ${s.p50.toFixed(2).padStart(8)} ms  p99 ${s.p99.toFixed(2).padStart(8)} ms (from sent ${s.p99Sent.toFixed(2)})  driver CPU ${s.cpuUs.toFixed(0).padStart(5)} µs/req  ${s.ok ? 'sustained' : 'NOT sustained'}`,
    );
  while (rate <= max) {
    let s = await step(clients, path, request, rate, limit);
    if (limit === Infinity) {
      // The first (lowest) step sets the baseline that later p99s are compared with.
      limit = Math.max(P99_FLOOR_MS, 10 * s.p99);
      s = { ...s, ok: s.ok && s.p99 <= P99_FLOOR_MS * 4 };
      console.log(`  ${label.padEnd(10)} p99 limit for later steps: ${limit.toFixed(1)} ms`);
    }
    steps.push(s);
    show(s);
    if (!s.ok) break;
    best = s;
    rate *= 2;
  }
  if (best && rate <= max) {
    const mid = Math.round((best.rate + rate) / 2);
    const s = await step(clients, path, request, mid, limit);
    steps.push(s);
    show(s);
    if (s.ok) best = s;
  }
  return { best, steps };
}

async function main(): Promise<void> {
  console.log(
    `bench:driver — open-model gRPC driver, ${STEP_S} s steps doubling the rate, 4 channels; sustained = drops ≤ 0.1%, OK ≥ 99.9%, achieved ≥ 90% of the rate, p99 from intended ≤ max(${P99_FLOOR_MS} ms, 10x the first step's)`,
  );
  console.log(
    `host: ${cpus().length} CPUs, load average ${loadavg()
      .map((x) => x.toFixed(1))
      .join(' ')} (other work on the host slows every figure alike)`,
  );

  const trivial = await spawnTarget([fileURLToPath(new URL('./trivial-grpc-child.js', import.meta.url))]);
  const body = Buffer.from([8, 1]);
  let driver;
  let bare;
  try {
    // Bare grpc-js calls, closed loop (32 callers): what one call costs without the driver.
    bare = await closedLoop(trivial.grpc, body, 32, STEP_S, TRIVIAL_PATH);
    console.log(
      `  bare grpc-js closed loop (32 callers): ${bare.rps.toFixed(0)} calls/s, ${bare.cpuUsPerRequest.toFixed(0)} µs CPU per call, p50 ${(bare.p50us / 1000).toFixed(2)} ms`,
    );
    driver = await rampUp('trivial', trivial.grpc, TRIVIAL_PATH, () => body, 100, 64_000);
  } finally {
    await trivial.stop();
  }

  const root = await mkdtemp(join(tmpdir(), 'leakscope-bench-driver-'));
  let reference;
  try {
    const server = await spawnCtrServe(root, ['--mode', 'patched'], { captureStderr: false, startTimeoutMs: 30_000 });
    try {
      const client = new TfServingClient(server.grpc);
      const inputs = inputSpecsFromMetadata(await client.metadata({ name: 'ctr' }));
      client.close();
      const reqs = predictRequests({ model: { name: 'ctr' }, inputs, order: { kind: 'fixed' } });
      reference = await rampUp(
        'reference',
        server.grpc,
        '/tensorflow.serving.PredictionService/Predict',
        reqs.grpc,
        25,
        64_000,
      );
    } finally {
      await server.stop();
    }
  } finally {
    await rm(root, { recursive: true, force: true });
  }

  const d = driver.best;
  const ref = reference.best;
  console.log('\nsummary');
  console.log(
    `  bare grpc-js client calls (closed loop, no driver): ${bare.rps.toFixed(0)}/s at ${bare.cpuUsPerRequest.toFixed(0)} µs CPU per call`,
  );
  const cpuOf = (r: { best?: Step; steps: Step[] }) => (r.best ?? r.steps[0])?.cpuUs.toFixed(0) ?? '?';
  console.log(
    `  driver vs trivial grpc-js server: max sustained ${d ? d.rate : '< 100'}/s, driver CPU ${cpuOf(driver)} µs per request`,
  );
  console.log(
    `  reference server Predict (CTR, 10 inputs, patched): max sustained ${ref ? ref.rate : '< 25'}/s, driver CPU ${cpuOf(reference)} µs per request`,
  );
  if (d && ref) {
    console.log(`  headroom: the driver sustains ${(d.rate / ref.rate).toFixed(1)}x the reference server's top rate`);
    console.log(
      `  driver load at the reference's top rate: ${(((ref.cpuUs * ref.rate) / 1e6) * 100).toFixed(0)}% of one core`,
    );
  }
}

await main();
