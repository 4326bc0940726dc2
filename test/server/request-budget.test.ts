import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GrpcCode } from '../../common/errors.js';
import { TfServingClient, encodePredictRequest } from '../../scenarios/tf-client.js';
import { RequestBudget } from '../../server/request-budget.js';
import { ctrFeatures } from '../../wire/models/ctr-model.js';
import { declareTensorProto, type TensorProtoLike } from '../../wire/tensors.js';
import { ctrJsonColumns, ctrTensors, postJson, withModelServer } from '../helpers/model-server.js';
import { spawnCtrServe } from '../helpers/spawn-target.js';

/** The amplification request: every CTR input declared [rows, 1] and given one value. */
function amplified(rows: number): Array<[string, TensorProtoLike]> {
  return ctrFeatures(10).map((f) => [
    f.name,
    f.dtype === 'int64'
      ? { dtype: 9, tensor_shape: { dim: [{ size: rows }, { size: 1 }] }, int64_val: [1] }
      : { dtype: 1, tensor_shape: { dim: [{ size: rows }, { size: 1 }] }, float_val: [0.5] },
  ]);
}

test('the budget counts declared elements and bytes, refuses with the numbers, and holds in-flight bytes until released', () => {
  const b = new RequestBudget({ maxRequestElements: 1000, maxRequestBytes: 4000, maxInflightBytes: 6000 });
  const decl = (rows: number) => declareTensorProto({ dtype: 1, tensor_shape: { dim: [{ size: rows }] } }, 'x');
  assert.equal(decl(4_000_000).bytes, 16_000_000, 'bytes from the declared shape, no values needed');
  assert.throws(
    () => b.admit([decl(600), decl(600)]),
    (e: any) =>
      e.code === 'LS_ERR_OVER_BUDGET' &&
      /request needs 1,200 elements \(4\.69 KiB\) over 2 input\(s\); the per-request budget is 1,000 elements/.test(
        e.message,
      ),
  );
  const first = b.admit([decl(1000)]);
  assert.equal(b.inflightBytes, 4000);
  assert.throws(
    () => b.admit([decl(1000)]),
    (e: any) => e.code === 'LS_ERR_BUDGET_EXHAUSTED' && /in-flight request budget/.test(e.message),
  );
  first.release();
  first.release();
  assert.equal(b.inflightBytes, 0, 'release is idempotent');
  b.admit([decl(1000)]).release();
  assert.equal(b.peakInflightBytes, 4000);
});

test('gRPC: the amplification request is refused INVALID_ARGUMENT with its numbers; concurrent requests past the in-flight budget get RESOURCE_EXHAUSTED', async () => {
  // One CTR row holds 5 float32 + 5 int64 = 60 bytes: a 100-byte in-flight budget admits one at a time.
  await withModelServer({ max_inflight_request_bytes: 100, model_delay_ms: 1500 }, async ({ grpc, server }) => {
    const body = encodePredictRequest({ name: 'ctr' }, amplified(4_000_000));
    assert.ok(body.length < 400, `the request is ${body.length} bytes on the wire`);
    await assert.rejects(grpc.predictRaw(body), (e: any) => {
      assert.equal(e.code, GrpcCode.INVALID_ARGUMENT);
      assert.match(
        e.details,
        /request needs 40,000,000 elements \(244 MiB\) over 10 input\(s\); the per-request budget is 8,388,608 elements/,
      );
      return true;
    });
    const slow = grpc.predict({ name: 'ctr' }, ctrTensors());
    await new Promise((r) => setTimeout(r, 300));
    await assert.rejects(grpc.predict({ name: 'ctr' }, ctrTensors()), (e: any) => {
      assert.equal(e.code, GrpcCode.RESOURCE_EXHAUSTED);
      assert.match(e.details, /in-flight request budget/);
      return true;
    });
    await slow;
    await grpc.predict({ name: 'ctr' }, ctrTensors());
    const metrics = await server.metrics.text();
    assert.match(metrics, /leakscope_rejected_requests_total\{transport="grpc",reason="request-budget"\} 1/);
  });
});

test('REST: deep nesting, malformed %-encoding and an over-budget body answer 400; a client abort mid-body is counted as 499, not 5xx', async () => {
  await withModelServer({ max_request_elements: 100 }, async ({ rest, server }) => {
    const url = `${rest}/v1/models/ctr:predict`;
    const deep = `{"inputs": {"user_age": ${'['.repeat(100_000)}1${']'.repeat(100_000)}}}`;
    const r1 = await postJson(url, deep);
    assert.equal(r1.status, 400);
    assert.match(r1.body.error, /input 'user_age' nests lists more than 32 levels deep/);
    const deepObject = `{"inputs": {"user_age": [${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}]}}`;
    const r2 = await postJson(url, deepObject);
    assert.equal(r2.status, 400);
    assert.match(r2.body.error, /element 0 is an object/);
    const r3 = await fetch(`${rest}/v1/models/%E0%A4%A`);
    assert.equal(r3.status, 400);
    assert.match(((await r3.json()) as { error: string }).error, /'%E0%A4%A' is not valid %-encoding/);
    const cols = ctrJsonColumns();
    const big = Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, Array.from({ length: 20 }, () => v[0])]));
    const r4 = await postJson(url, { inputs: big });
    assert.equal(r4.status, 400);
    assert.match(
      r4.body.error,
      /request needs 200 elements .* over 10 input\(s\); the per-request budget is 100 elements/,
    );
    assert.equal((await postJson(url, { inputs: cols })).status, 200, 'the server keeps serving');

    // A client that sends half its body and hangs up.
    const port = Number(new URL(rest).port);
    await new Promise<void>((resolve, reject) => {
      const sock = connect(port, '127.0.0.1', () => {
        sock.write(
          `POST /v1/models/ctr:predict HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"inputs": {`,
        );
        setTimeout(() => {
          sock.destroy();
          resolve();
        }, 200);
      });
      sock.on('error', reject);
    });
    let text = '';
    for (let i = 0; i < 50 && !/status="499"/.test(text); i++) {
      await new Promise((r) => setTimeout(r, 50));
      text = await server.metrics.text();
    }
    assert.match(text, /leakscope_requests_total\{method="Predict",transport="rest",status="499"\} 1/);
    assert.doesNotMatch(text, /transport="rest",status="5\d\d"/, 'no 5xx counted');
  });
});

test('a spawned server refuses the 355-byte amplification request (10 × [4000000, 1], one value each) with its peak RSS under 400 MB', async () => {
  const root = await mkdtemp(join(tmpdir(), 'leakscope-amplify-'));
  const s = await spawnCtrServe(root, ['--mode', 'leaky'], { startTimeoutMs: 30_000 });
  const client = new TfServingClient(s.grpc);
  try {
    const body = encodePredictRequest({ name: 'ctr' }, amplified(4_000_000));
    // Eight at once: without the budget each would fill ~229 MB of inputs (the issue saw 1.55 GB for one).
    const results = await Promise.allSettled(Array.from({ length: 8 }, () => client.predictRaw(body, 20_000)));
    for (const r of results) {
      assert.equal(r.status, 'rejected');
      assert.equal((r as PromiseRejectedResult).reason.code, GrpcCode.INVALID_ARGUMENT);
    }
    const status = readFileSync(`/proc/${s.child.pid}/status`, 'utf8');
    const hwmKb = Number(/VmHWM:\s+(\d+)/.exec(status)![1]);
    assert.ok(hwmKb < 400 * 1024, `peak RSS ${Math.round(hwmKb / 1024)} MB`);
    console.log(`# amplification: peak RSS of the server ${Math.round(hwmKb / 1024)} MB`);
    // The budget refuses before allocating; a request inside it still works.
    await client.predict({ name: 'ctr' }, ctrTensors());
  } finally {
    client.close();
    await s.stop();
    await rm(root, { recursive: true, force: true });
  }
});
