/**
 * Fixtures for the handler-thread and diagnostics tests: a server on free loopback ports
 * over a fresh CTR model folder, Predict over REST and gRPC in any input order, and a
 * sampler that records the peak of a gauge while a spike runs.
 */
import type * as grpc from '@grpc/grpc-js';
import { tfTypes } from '../../wire/proto-root.js';
import { ctrFeatures, exampleCtrInputs } from '../../wire/models/ctr-model.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import type { RawServerOptions } from '../../server/options.js';
import { startServer, type ServerHandle } from '../../server/server.js';
import { withTmpDir } from './tmp-dir.js';

export const FEATURES = ctrFeatures(10);
const VALUES = exampleCtrInputs(FEATURES, 1, 1);
const DEFAULT_ORDER = FEATURES.map((f) => f.name);

/** Runs `fn` with a server over model 'ctr' (10 features, version 1) in a temp folder; always closes it. */
export function withSpikeServer<T>(
  raw: RawServerOptions,
  fn: (s: ServerHandle, root: string) => Promise<T>,
): Promise<T> {
  return withTmpDir('leakscope-spike-', async (root) => {
    await writeModelVersions(`${root}/ctr`, { features: 10, versions: [1] });
    const s = await startServer({
      port: 0,
      rest_api_port: 0,
      model_name: 'ctr',
      model_base_path: `${root}/ctr`,
      log_level: 'silent',
      file_system_poll_wait_seconds: 0,
      ...raw,
    });
    try {
      return await fn(s, root);
    } finally {
      await s.close();
    }
  });
}

/** REST columnar Predict with the inputs in `order`; resolves status and parsed body. */
export async function restPredict(
  s: ServerHandle,
  order: readonly string[] = DEFAULT_ORDER,
): Promise<{ status: number; body: any }> {
  const inputs: Record<string, number[][]> = {};
  for (const n of order) inputs[n] = [[VALUES[n]![0]!]];
  const r = await fetch(`http://127.0.0.1:${s.restPort}/v1/models/ctr:predict`, {
    method: 'POST',
    body: JSON.stringify({ inputs }),
  });
  return { status: r.status, body: await r.json() };
}

/** gRPC Predict over `client`; resolves the status code and details (0 / '' on success). */
export function grpcPredict(
  client: grpc.Client,
  order: readonly string[] = DEFAULT_ORDER,
): Promise<{ code: number; details: string }> {
  const inputs: Record<string, unknown> = {};
  for (const n of order) {
    const f = FEATURES.find((x) => x.name === n)!;
    const v = VALUES[n]![0]!;
    inputs[n] = {
      dtype: f.dtype === 'int64' ? 9 : 1,
      tensor_shape: { dim: [{ size: 1 }, { size: 1 }] },
      ...(f.dtype === 'int64' ? { int64_val: [v] } : { float_val: [v] }),
    };
  }
  const body = Buffer.from(
    tfTypes()
      .PredictRequest.encode({ model_spec: { name: 'ctr' }, inputs })
      .finish(),
  );
  const id = (b: Buffer) => b;
  return new Promise((resolve) => {
    client.makeUnaryRequest('/tensorflow.serving.PredictionService/Predict', id, id, body, (err) =>
      resolve({ code: err?.code ?? 0, details: err?.details ?? '' }),
    );
  });
}

/** Calls `read` every `ms` until stopped; `stop()` returns the largest value seen. */
export function samplePeak(read: () => number, ms = 10): { stop(): number } {
  let peak = read();
  const t = setInterval(() => (peak = Math.max(peak, read())), ms);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, read());
    },
  };
}

/** Polls `cond` every 20 ms until true or `timeoutMs` passes; resolves whether it became true. */
export async function eventually(cond: () => boolean, timeoutMs = 5000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
}
