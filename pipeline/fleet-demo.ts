/**
 * A fleet on this machine: a real Prometheus scraping N reference servers (half leaky,
 * half patched) on loopback every 2 s while each takes the shuffled-input load, then
 * `leakscope fleet` over what Prometheus stored, with the leaky servers as the canary and
 * the patched ones as the baseline. `npm run fleet:demo` / `leakscope fleet demo`.
 * Everything it starts is stopped before it returns, also on failure.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import type { FleetResult } from '../common/fleet-format.js';
import { analyzeFleet } from '../fleet/analyze-fleet.js';
import { startGrpcPhase } from '../scenarios/grpc-driver.js';
import { inputSpecsFromMetadata, predictRequests } from '../scenarios/predict-requests.js';
import { planArrivals } from '../scenarios/schedule.js';
import { spawnReferenceServer, type Target } from '../scenarios/targets.js';
import { TfServingClient } from '../scenarios/tf-client.js';
import { type PrometheusServer, startPrometheus } from './prometheus-server.js';

export interface FleetDemoOptions {
  /** Reference servers (default 4): the first half leaky, the rest patched. */
  readonly servers?: number;
  /** Load per server, requests per second (default 25). */
  readonly rate?: number;
  /** Seconds of load (default 120); the first `settleS` are warm-up. */
  readonly durationS?: number;
  /** Warm-up left out of the statistics (default 30). */
  readonly settleS?: number;
  /** Progress lines. */
  readonly onEvent?: (line: string) => void;
}

export interface FleetDemoResult {
  readonly result: FleetResult;
  readonly prometheus: string;
  readonly wallMs: number;
}

export const DEMO_JOB = 'leakscope-demo';

/**
 * Runs the demo and returns the fleet judgement (canary = leaky, baseline = patched).
 * @example const { result } = await runFleetDemo({ onEvent: console.error }); result.canary!.pass // false
 */
export async function runFleetDemo(o: FleetDemoOptions = {}): Promise<FleetDemoResult> {
  const t0 = Date.now();
  const n = o.servers ?? 4;
  const rate = o.rate ?? 25;
  const durationS = o.durationS ?? 120;
  const settleS = o.settleS ?? 30;
  if (!Number.isInteger(n) || n < 2 || n > 16)
    throw new LsError('LS_ERR_INVALID_OPTION', `--servers: must be a whole number from 2 to 16, got ${n}`);
  if (!(rate > 0 && rate <= 500))
    throw new LsError('LS_ERR_INVALID_OPTION', `--rate: must be above 0 and at most 500, got ${rate}`);
  if (!(durationS >= settleS + 30 && durationS <= 3600))
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--duration: must be at least the warm-up (${settleS} s) plus 30 s and at most 3600 s, got ${durationS}`,
    );
  const say = o.onEvent ?? (() => {});
  const dir = await mkdtemp(join(tmpdir(), 'leakscope-fleet-demo-'));
  const servers: Target[] = [];
  let prom: PrometheusServer | undefined;
  try {
    const modes = Array.from({ length: n }, (_, i) => (i < Math.ceil(n / 2) ? 'leaky' : 'patched'));
    say(`starting ${n} reference servers (${modes.join(', ')})…`);
    for (const mode of modes) servers.push(await spawnReferenceServer({ mode, diagnosticsDir: dir }));
    prom = await startPrometheus({
      dataDir: join(dir, 'prometheus'),
      scrapeIntervalSeconds: 2,
      jobs: [
        {
          job: DEMO_JOB,
          metricsPath: '/monitoring/prometheus/metrics',
          targets: modes.map((mode, i) => ({
            address: servers[i]!.http!.replace(/^http:\/\//, ''),
            labels: { track: mode, server: `${mode}-${i + 1}` },
          })),
        },
      ],
    });
    say(`prometheus at ${prom.url} scrapes them every 2 s`);
    const client = new TfServingClient(servers[0]!.grpc!);
    const inputs = inputSpecsFromMetadata(await client.metadata({ name: servers[0]!.modelName }));
    client.client.close();
    const requests = predictRequests({
      model: { name: servers[0]!.modelName },
      inputs,
      order: { kind: 'permutations', k: 1_000_000 },
    });
    say(`load: ${rate} req/s of shuffled-input Predict on each server for ${durationS} s…`);
    const start = Date.now();
    const results = await Promise.all(
      servers.map(
        (s, i) =>
          startGrpcPhase({
            name: `demo-${i + 1}`,
            address: s.grpc!,
            schedule: planArrivals({ kind: 'constant', rate, durationS }, { seed: i + 1 }),
            request: requests.grpc,
            maxInflight: 64,
          }).done,
      ),
    );
    const loadEnd = Date.now();
    const completed = results.reduce((a, r) => a + r.completed, 0);
    say(`load done: ${completed} requests completed; waiting for a last scrape…`);
    await new Promise((r) => setTimeout(r, 2500));
    const result = await analyzeFleet({
      prometheus: prom.url,
      canary: `{job="${DEMO_JOB}",track="leaky"}`,
      baseline: `{job="${DEMO_JOB}",track="patched"}`,
      range: `${Math.ceil((loadEnd - start) / 1000)}s`,
      end: String(loadEnd / 1000),
      step: '2s',
      settle: `${settleS}s`,
    });
    return { result, prometheus: prom.url, wallMs: Date.now() - t0 };
  } finally {
    await prom?.stop();
    await Promise.all(servers.map((s) => s.stop()));
    await rm(dir, { recursive: true, force: true });
  }
}
