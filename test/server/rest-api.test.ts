import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ctrFeatures, exampleCtrInputs } from '../../wire/models/ctr-model.js';
import { ctrJsonColumns, ctrTensors, getJson, postJson, withModelServer } from '../helpers/model-server.js';

test('REST Predict: row form (instances → predictions) and columnar form (inputs → outputs) agree with gRPC', async () => {
  await withModelServer({}, async ({ rest, grpc }) => {
    const batch = 3;
    const cols = ctrJsonColumns(10, batch);
    const instances = Array.from({ length: batch }, (_, r) =>
      Object.fromEntries(Object.entries(cols).map(([n, v]) => [n, v[r]])),
    );
    const row = await postJson(`${rest}/v1/models/ctr:predict`, { instances });
    assert.equal(row.status, 200, JSON.stringify(row.body));
    assert.equal(row.body.predictions.length, batch);
    const col = await postJson(`${rest}/v1/models/ctr/versions/1:predict`, {
      signature_name: 'serving_default',
      inputs: cols,
    });
    assert.equal(col.status, 200, JSON.stringify(col.body));
    assert.equal(col.body.outputs.length, batch);
    const g = await grpc.predict({ name: 'ctr' }, ctrTensors(10, batch));
    for (let r = 0; r < batch; r++) {
      assert.ok(Math.abs(row.body.predictions[r][0] - g.outputs.prob!.float_val![r]!) < 1e-6);
      assert.ok(Math.abs(col.body.outputs[r][0] - g.outputs.prob!.float_val![r]!) < 1e-6);
    }
  });
});

test('REST status and metadata paths: by name, /versions/{v}, /labels/{l}; errors are {"error"} with the right status', async () => {
  await withModelServer({}, async ({ rest }) => {
    const st = await getJson(`${rest}/v1/models/ctr`);
    assert.equal(st.status, 200);
    assert.deepEqual(st.body, {
      model_version_status: [{ version: '1', state: 'AVAILABLE', status: { error_code: 'OK', error_message: '' } }],
    });
    assert.equal((await getJson(`${rest}/v1/models/ctr/versions/1`)).status, 200);
    const missingV = await getJson(`${rest}/v1/models/ctr/versions/7`);
    assert.equal(missingV.status, 404);
    assert.match(missingV.body.error, /version 7/);
    const missingM = await getJson(`${rest}/v1/models/nope`);
    assert.equal(missingM.status, 404);
    assert.match(missingM.body.error, /'nope'/);
    const label = await getJson(`${rest}/v1/models/ctr/labels/stable`);
    assert.equal(label.status, 404);
    assert.match(label.body.error, /label 'stable'/);
    const md = await getJson(`${rest}/v1/models/ctr/metadata`);
    assert.equal(md.status, 200);
    assert.equal(md.body.model_spec.version, '1');
    const sig = md.body.metadata.signature_def.signature_def.serving_default;
    assert.equal(sig.inputs.item_id.dtype, 'DT_INT64');
    assert.deepEqual(
      sig.inputs.item_id.tensor_shape.dim.map((d: any) => d.size),
      ['-1', '1'],
    );
    assert.equal(sig.outputs.prob.dtype, 'DT_FLOAT');
    const route = await getJson(`${rest}/v2/whatever`);
    assert.equal(route.status, 404);
    assert.match(route.body.error, /Malformed request/);
    const cls = await postJson(`${rest}/v1/models/ctr:classify`, { examples: [] });
    assert.equal(cls.status, 501);
    assert.match(cls.body.error, /classify/);
  });
});

test('single-input models accept the unnamed forms of instances and inputs', async () => {
  await withModelServer({ features: 1 }, async ({ rest }) => {
    const name = ctrFeatures(1)[0]!.name;
    const v = exampleCtrInputs(ctrFeatures(1), 2)[name]!;
    const row = await postJson(`${rest}/v1/models/ctr:predict`, { instances: v.map((x) => [x]) });
    assert.equal(row.status, 200, JSON.stringify(row.body));
    assert.equal(row.body.predictions.length, 2);
    const col = await postJson(`${rest}/v1/models/ctr:predict`, { inputs: v.map((x) => [x]) });
    assert.equal(col.status, 200, JSON.stringify(col.body));
    assert.deepEqual(col.body.outputs, row.body.predictions);
  });
});

test('Prometheus metrics count requests by method and status and expose the executor cache', async () => {
  await withModelServer({ mode: 'leaky' }, async ({ rest }) => {
    await postJson(`${rest}/v1/models/ctr:predict`, { inputs: ctrJsonColumns() });
    await postJson(`${rest}/v1/models/ctr:predict`, { inputs: {} });
    const r = await fetch(`${rest}/monitoring/prometheus/metrics`);
    assert.equal(r.status, 200);
    const text = await r.text();
    assert.match(text, /leakscope_requests_total\{method="Predict",transport="rest",status="200"\} 1/);
    assert.match(text, /leakscope_requests_total\{method="Predict",transport="rest",status="400"\} 1/);
    assert.match(text, /leakscope_executor_cache_entries\{model="ctr",version="1"\} 2/);
    assert.match(text, /leakscope_request_duration_seconds_bucket/);
    // prom-client's standard names, unprefixed, as Node dashboards query them; the OS thread count.
    assert.match(text, /^process_resident_memory_bytes \d+$/m);
    assert.match(text, /^nodejs_heap_size_used_bytes \d+$/m);
    assert.match(text, /^process_threads \d+$/m);
    assert.doesNotMatch(text, /leakscope_process_|leakscope_nodejs_/);
    // TF Serving's own names: per model, status as a code name, latency in µs for Predicts that succeed.
    assert.match(text, /^:tensorflow:serving:request_count\{model_name="ctr",status="OK"\} 1$/m);
    assert.match(text, /^:tensorflow:serving:request_count\{model_name="ctr",status="INVALID_ARGUMENT"\} 1$/m);
    assert.match(
      text,
      /^:tensorflow:serving:request_latency_count\{model_name="ctr",API="Predict",entrypoint="REST"\} 1$/m,
    );
    assert.match(text, /^:tensorflow:serving:request_latency_bucket\{le="32.4",model_name="ctr"/m);
  });
});
