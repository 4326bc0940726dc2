import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../common/package-root.js';
import { GrpcCode } from '../../common/errors.js';
import { mulberry32 } from '../../common/prng.js';
import { ctrFeatures } from '../../wire/models/ctr-model.js';
import type { TensorProtoLike } from '../../wire/tensors.js';
import { encodePredictRequest, TfServingClient } from '../../scenarios/tf-client.js';
import { ctrJsonColumns, ctrTensors } from '../helpers/model-server.js';
import { spawnCtrServe, type Target } from '../helpers/spawn-target.js';

/** Sends `total` requests from `workers` concurrent loops; `one` sends one and checks its answer. */
async function inWorkers(workers: number, total: number, one: () => Promise<void>): Promise<void> {
  let sent = 0;
  const loop = async () => {
    while (sent < total) {
      sent++;
      await one();
    }
  };
  await Promise.all(Array.from({ length: workers }, loop));
}

test('fuzz: thousands of random REST bodies and protobuf byte strings each get an answer; the process stays up; SIGTERM exits 0', async () => {
  const root = await mkdtemp(join(tmpdir(), 'leakscope-fuzz-'));
  let s: Target | undefined;
  const client: { c?: TfServingClient } = {};
  try {
    s = await spawnCtrServe(root, ['--mode', 'leaky']);
    const rand = mulberry32(20261128);
    const ri = (n: number) => Math.floor(rand() * n);
    const valid = JSON.stringify({ inputs: ctrJsonColumns() });
    const validPb = encodePredictRequest({ name: 'ctr' }, ctrTensors());
    const atoms = [
      '{',
      '}',
      '[',
      ']',
      ',',
      ':',
      '"inputs"',
      '"instances"',
      '"user_age"',
      '1',
      '-1e400',
      'null',
      'true',
      '"x"',
      '1.5',
      '[[1]]',
      '{}',
      '"\\u0000"',
    ];
    const mutate = (b: Buffer) => {
      const c = Buffer.from(b);
      for (let k = 0, n = 1 + ri(4); k < n; k++) c[ri(c.length)] = ri(256);
      return ri(4) === 0 ? c.subarray(0, ri(c.length)) : c;
    };
    const restBody = (): Buffer => {
      switch (ri(3)) {
        case 0:
          return Buffer.from(Array.from({ length: 1 + ri(30) }, () => atoms[ri(atoms.length)]).join(''));
        case 1:
          return mutate(Buffer.from(valid));
        default:
          return Buffer.from(Array.from({ length: ri(200) }, () => ri(256)));
      }
    };
    const pbBody = (): Buffer =>
      ri(2) === 0 ? mutate(validPb) : Buffer.from(Array.from({ length: ri(300) }, () => ri(256)));
    const N = 2000;
    const statuses = new Map<number | string, number>();
    const count = (k: number | string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
    await inWorkers(8, N, async () => {
      const r = await fetch(`http://${s!.rest}/v1/models/ctr:predict`, { method: 'POST', body: restBody() });
      const body = (await r.json()) as { error?: unknown };
      assert.ok(r.status === 200 || typeof body.error === 'string', `status ${r.status} without an error message`);
      assert.ok(r.status < 500, `a client error answered ${r.status}: ${body.error}`);
      count(r.status);
    });
    client.c = new TfServingClient(s.grpc);
    await inWorkers(8, N, async () => {
      try {
        await client.c!.predictRaw(pbBody(), 10_000);
        count('grpc:OK');
      } catch (e: any) {
        assert.ok(
          typeof e.code === 'number' && e.code !== 14 && e.code !== 4,
          `transport failure: ${e.code} ${e.details}`,
        );
        count(`grpc:${e.code}`);
      }
    });
    const total = [...statuses.values()].reduce((a, b) => a + b, 0);
    assert.equal(total, 2 * N, 'every request was answered');
    assert.equal(s.child.exitCode, null, 'the server is still up');
    const ok = await client.c.predict({ name: 'ctr' }, ctrTensors());
    assert.ok(ok.outputs.prob!.float_val![0]! > 0);
    const okRest = await fetch(`http://${s.rest}/v1/models/ctr:predict`, { method: 'POST', body: valid });
    assert.equal(okRest.status, 200);
    client.c.close();
    s.child.kill('SIGTERM');
    const [code] = await once(s.child, 'exit');
    assert.equal(code, 0, s.logs.join('\n'));
  } finally {
    client.c?.close();
    if (s && s.child.exitCode === null) s.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('fuzz: shape amplification and deep nesting get 4xx (never 5xx), the server stays up with its peak RSS bounded', async () => {
  const root = await mkdtemp(join(tmpdir(), 'leakscope-fuzz-amp-'));
  let s: Target | undefined;
  let client: TfServingClient | undefined;
  try {
    s = await spawnCtrServe(root, ['--mode', 'leaky']);
    const rand = mulberry32(20261130);
    const ri = (n: number) => Math.floor(rand() * n);
    const feats = ctrFeatures(10);
    const dimChoices = () => [0, 1, 2, 1000, 4_000_000, 2 ** 24, 2 ** 31, 2 ** 40, ri(10_000_000)][ri(9)]!;
    // A declared shape far larger than the bytes sent: one value (or none) fills it.
    const amplified = (): Buffer => {
      const inputs = feats
        .filter(() => ri(5) !== 0)
        .map((f) => {
          const dims = Array.from({ length: 1 + ri(3) }, dimChoices);
          const dtype = ri(6) === 0 ? [1, 2, 3, 9, 10, 19][ri(6)]! : f.dtype === 'int64' ? 9 : 1;
          const vals = ri(4) === 0 ? [] : [1];
          const tp =
            dtype === 9
              ? { dtype, tensor_shape: { dim: dims.map((size) => ({ size })) }, int64_val: vals }
              : { dtype, tensor_shape: { dim: dims.map((size) => ({ size })) }, float_val: vals };
          return [f.name, tp] as [string, TensorProtoLike];
        });
      return encodePredictRequest({ name: 'ctr' }, inputs);
    };
    const nested = (depth: number, leaf: string) => `${'['.repeat(depth)}${leaf}${']'.repeat(depth)}`;
    const deepBody = (): string => {
      const d = [2, 33, 1000, 100_000, 200_000][ri(5)]!;
      const name = feats[ri(feats.length)]!.name;
      switch (ri(4)) {
        case 0:
          return `{"inputs": {"${name}": ${nested(d, '1')}}}`;
        case 1:
          return `{"instances": [{"${name}": ${nested(d, '1')}}]}`;
        case 2:
          return `{"inputs": {"${name}": [${'{"a":'.repeat(d)}1${'}'.repeat(d)}]}}`;
        default:
          return `{"inputs": {"${name}": [${nested(d, '1')}, 2]}}`;
      }
    };
    const statuses = new Map<string, number>();
    const count = (k: string) => statuses.set(k, (statuses.get(k) ?? 0) + 1);
    client = new TfServingClient(s.grpc);
    const N = 150;
    await inWorkers(4, N, async () => {
      try {
        await client!.predictRaw(amplified(), 20_000);
        count('grpc:OK');
      } catch (e: any) {
        assert.ok(
          e.code === GrpcCode.INVALID_ARGUMENT || e.code === GrpcCode.RESOURCE_EXHAUSTED,
          `amplified request answered ${e.code} ${e.details}`,
        );
        count(`grpc:${e.code}`);
      }
    });
    await inWorkers(4, N, async () => {
      const r = await fetch(`http://${s!.rest}/v1/models/ctr:predict`, { method: 'POST', body: deepBody() });
      const body = (await r.json()) as { error?: string };
      assert.ok(r.status === 400 && typeof body.error === 'string', `deep body answered ${r.status} ${body.error}`);
      count(`rest:${r.status}`);
    });
    assert.equal(
      [...statuses.values()].reduce((a, b) => a + b, 0),
      2 * N,
      'every request was answered',
    );
    assert.equal(s.child.exitCode, null, 'the server is still up');
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${s.child.pid}/status`, 'utf8'))![1]);
    assert.ok(hwmKb < 600 * 1024, `peak RSS ${Math.round(hwmKb / 1024)} MB`);
    const ok = await client.predict({ name: 'ctr' }, ctrTensors());
    assert.ok(ok.outputs.prob!.float_val![0]! > 0);
  } finally {
    client?.close();
    await s?.stop();
    await rm(root, { recursive: true, force: true });
  }
});

test('graceful shutdown: SIGTERM stops accepting, lets in-flight slow requests finish, exits 0', async () => {
  const root = await mkdtemp(join(tmpdir(), 'leakscope-shutdown-'));
  let s: Target | undefined;
  const c: { client?: TfServingClient } = {};
  try {
    s = await spawnCtrServe(root, ['--model-delay-ms', '400']);
    c.client = new TfServingClient(s.grpc);
    const inflight = Array.from({ length: 4 }, () => c.client!.predict({ name: 'ctr' }, ctrTensors()));
    const restInflight = fetch(`http://${s.rest}/v1/models/ctr:predict`, {
      method: 'POST',
      body: JSON.stringify({ inputs: ctrJsonColumns() }),
    });
    await new Promise((r) => setTimeout(r, 150));
    s.child.kill('SIGTERM');
    const results = await Promise.all(inflight);
    for (const r of results) assert.ok(r.outputs.prob!.float_val![0]! > 0);
    assert.equal((await restInflight).status, 200);
    const [code] = await once(s.child, 'exit');
    assert.equal(code, 0);
  } finally {
    c.client?.close();
    if (s && s.child.exitCode === null) s.child.kill('SIGKILL');
    await rm(root, { recursive: true, force: true });
  }
});

test('serve rejects bad flags with exit 2 and a message naming the flag', async () => {
  const child = spawn(process.execPath, [join(packageRoot(), 'bin', 'leakscope.js'), 'serve', '--port', 'eighty'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const [code] = await once(child, 'exit');
  assert.equal(code, 2);
  assert.match(err, /--port: expected an integer/);
});
