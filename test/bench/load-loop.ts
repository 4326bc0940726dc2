/**
 * A closed-loop gRPC load for benchmarks: C callers, each sending the same pre-encoded
 * request as soon as its previous answer arrives, for a fixed time. Latency in an HDR
 * histogram (microseconds).
 */
import { median as medianOrNull } from '../../analyzer/series/median.js';
import * as hdr from 'hdr-histogram-js';
import { TfServingClient } from '../../scenarios/tf-client.js';

export interface LoopResult {
  readonly completed: number;
  readonly errors: number;
  readonly seconds: number;
  readonly rps: number;
  readonly p50us: number;
  readonly p99us: number;
  readonly cpuUsPerRequest: number;
}

export async function closedLoop(
  address: string,
  body: Buffer,
  concurrency: number,
  seconds: number,
  path = '/tensorflow.serving.PredictionService/Predict',
): Promise<LoopResult> {
  const clients = [
    new TfServingClient(address, { 'grpc.use_local_subchannel_pool': 1 }),
    new TfServingClient(address, { 'grpc.use_local_subchannel_pool': 1 }),
  ];
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  let completed = 0;
  let errors = 0;
  const end = performance.now() + seconds * 1000;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const caller = async (i: number) => {
    const c = clients[i % clients.length]!;
    while (performance.now() < end) {
      const s = performance.now();
      try {
        await c.raw(path, body);
        completed++;
        h.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
      } catch {
        errors++;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, (_, i) => caller(i)));
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  for (const c of clients) c.close();
  const res = {
    completed,
    errors,
    seconds: elapsed,
    rps: completed / elapsed,
    p50us: h.getValueAtPercentile(50),
    p99us: h.getValueAtPercentile(99),
    cpuUsPerRequest: (cpu.user + cpu.system) / Math.max(1, completed),
  };
  h.destroy();
  return res;
}

/** Median of a non-empty list (analyzer/series/median, NaN for none). */
export const median = (xs: number[]): number => medianOrNull(xs) ?? NaN;
