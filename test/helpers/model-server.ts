/** Test fixtures: a model folder, a running reference server on port 0, clients for it. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctrFeatures, exampleCtrInputs } from '../../wire/models/ctr-model.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import type { RawServerOptions } from '../../server/options.js';
import { startServer, type ServerHandle, type StartDeps } from '../../server/server.js';
import type { HostTensor } from '../../wire/tensors.js';
import { TfServingClient } from '../../scenarios/tf-client.js';

export interface Fixture {
  readonly server: ServerHandle;
  /** Base path of model 'ctr'. */
  readonly modelDir: string;
  readonly root: string;
  readonly grpc: TfServingClient;
  /** http://127.0.0.1:PORT */
  readonly rest: string;
}

export interface FixtureOptions extends RawServerOptions {
  readonly versions?: number[];
  readonly features?: number;
}

/**
 * Writes CTR model versions, starts a server on free loopback ports, runs `fn`, and
 * always cleans up (server, client, folder).
 */
export async function withModelServer<T>(
  opts: FixtureOptions,
  fn: (f: Fixture) => Promise<T>,
  deps: StartDeps = {},
): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'leakscope-test-'));
  const modelDir = join(root, 'ctr');
  const { versions = [1], features = 10, ...raw } = opts;
  await writeModelVersions(modelDir, { features, versions });
  let server: ServerHandle | undefined;
  let grpc: TfServingClient | undefined;
  try {
    server = await startServer(
      {
        port: 0,
        rest_api_port: 0,
        model_name: 'ctr',
        model_base_path: modelDir,
        log_level: 'silent',
        file_system_poll_wait_seconds: 0,
        ...raw,
      },
      deps,
    );
    grpc = new TfServingClient(`127.0.0.1:${server.grpcPort}`);
    return await fn({ server, modelDir, root, grpc, rest: `http://127.0.0.1:${server.restPort}` });
  } finally {
    grpc?.close();
    await server?.close();
    await rm(root, { recursive: true, force: true });
  }
}

/** Named CTR input tensors for `batch` rows, in feature order (or the order given). */
export function ctrTensors(features = 10, batch = 1, order?: readonly string[], seed = 1): Array<[string, HostTensor]> {
  const feats = ctrFeatures(features);
  const cols = exampleCtrInputs(feats, batch, seed);
  const byName = new Map(
    feats.map((f) => {
      const vals = cols[f.name]!;
      const data = f.dtype === 'int64' ? BigInt64Array.from(vals, (v) => BigInt(v)) : Float32Array.from(vals);
      return [f.name, { dtype: f.dtype === 'int64' ? 'int64' : 'float32', dims: [batch, 1], data } as HostTensor];
    }),
  );
  const names = order ?? feats.map((f) => f.name);
  return names.map((n) => [n, byName.get(n)!]);
}

/** The same inputs as JSON columns ({"name": [[v], ...]}), in feature order or the order given. */
export function ctrJsonColumns(
  features = 10,
  batch = 1,
  order?: readonly string[],
  seed = 1,
): Record<string, number[][]> {
  const feats = ctrFeatures(features);
  const cols = exampleCtrInputs(feats, batch, seed);
  const out: Record<string, number[][]> = {};
  for (const n of order ?? feats.map((f) => f.name)) out[n] = cols[n]!.map((v) => [v]);
  return out;
}

/** POST JSON to the REST server; resolves status and parsed body. */
export async function postJson(url: string, body: unknown): Promise<{ status: number; body: any }> {
  const r = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await r.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { status: r.status, body: parsed };
}

export async function getJson(url: string): Promise<{ status: number; body: any }> {
  const r = await fetch(url);
  return { status: r.status, body: await r.json() };
}
