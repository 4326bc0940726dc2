import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { isLsError } from '../../common/errors.js';
import {
  CTR_FEATURES,
  CTR_IR_VERSION,
  CTR_OPSET,
  type CtrFeature,
  type CtrModel,
  buildCtrModel,
  ctrFeatures,
  exampleCtrInputs,
} from '../../wire/models/ctr-model.js';
import { decodeOnnxModel } from '../../wire/models/onnx-proto.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const BATCH = 3;

/** Columns of numbers → onnxruntime feeds of shape [batch, 1] in each feature's dtype. */
function feeds(features: readonly CtrFeature[], cols: Record<string, number[]>): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const ft of features) {
    const v = cols[ft.name]!;
    out[ft.name] =
      ft.dtype === 'int64'
        ? new ort.Tensor(
            'int64',
            BigInt64Array.from(v, (x) => BigInt(x)),
            [v.length, 1],
          )
        : new ort.Tensor('float32', Float32Array.from(v), [v.length, 1]);
  }
  return out;
}

/** The model's forward pass in plain JS (float64) from the weights the builder reports. */
function reference(m: CtrModel, cols: Record<string, number[]>, batch: number): number[] {
  const { featureScale, w1, b1, w2, b2 } = m.weights;
  const n = m.features.length;
  const h = m.hidden;
  return Array.from({ length: batch }, (_, r) => {
    const x = m.features.map((ft, j) => cols[ft.name]![r]! * featureScale[j]!);
    let logit = b2[0]!;
    for (let k = 0; k < h; k++) {
      let pre = b1[k]!;
      for (let j = 0; j < n; j++) pre += x[j]! * w1[j * h + k]!;
      logit += Math.max(0, pre) * w2[k]!;
    }
    return 1 / (1 + Math.exp(-logit));
  });
}

/** Writes the model to a temp file and runs one batch through onnxruntime. */
async function loadAndRun(m: CtrModel, cols: Record<string, number[]>) {
  return withTmpDir('leakscope-ctr-', async (dir) => {
    const path = join(dir, 'model.onnx');
    await writeFile(path, m.bytes);
    const session = await ort.InferenceSession.create(path);
    try {
      const result = await session.run(feeds(m.features, cols));
      return { inputs: session.inputMetadata, outputs: session.outputMetadata, prob: result.prob! };
    } finally {
      await session.release();
    }
  });
}

test('feature list: named features first, then feature_<i>, with both dtypes', () => {
  assert.deepEqual(
    ctrFeatures(10).map((f) => f.name),
    [
      'user_age',
      'item_id',
      'user_gender',
      'item_category',
      'hour_of_day',
      'device_type',
      'user_city',
      'item_price',
      'ctr_7d',
      'dwell_time',
    ],
  );
  const many = ctrFeatures(20);
  assert.equal(new Set(many.map((f) => f.name)).size, 20);
  assert.equal(many[CTR_FEATURES.length]!.name, `feature_${CTR_FEATURES.length}`);
  for (const n of [2, 10, 20]) {
    const dtypes = new Set(ctrFeatures(n).map((f) => f.dtype));
    assert.deepEqual([...dtypes].sort(), ['float32', 'int64'], `both dtypes at n=${n}`);
  }
  assert.equal(ctrFeatures(10).find((f) => f.name === 'item_id')!.dtype, 'int64');
  assert.equal(ctrFeatures(10).find((f) => f.name === 'ctr_7d')!.dtype, 'float32');
});

for (const n of [1, 10, 20]) {
  test(`onnxruntime loads a ${n}-feature model with the advertised signature and it matches the reference`, async () => {
    const m = buildCtrModel({ features: n, hidden: 8, seed: 7 });
    const cols = exampleCtrInputs(m.features, BATCH, 3);
    const { inputs, outputs, prob } = await loadAndRun(m, cols);

    assert.deepEqual(
      inputs.map((v) => (v.isTensor ? [v.name, v.type, v.shape] : [v.name])),
      m.signature.inputs.map((s) => [s.name, s.dtype, s.shape]),
    );
    assert.deepEqual(
      inputs.map((v) => v.name),
      m.features.map((f) => f.name),
    );
    assert.deepEqual(
      outputs.map((v) => (v.isTensor ? [v.name, v.type, v.shape] : [v.name])),
      [['prob', 'float32', ['batch', 1]]],
    );

    assert.deepEqual(prob.dims, [BATCH, 1]);
    const got = Array.from(prob.data as Float32Array);
    for (const p of got) assert.ok(p > 0.01 && p < 0.99, `prob ${p} should be inside (0, 1) and not saturated`);
    const want = reference(m, cols, BATCH);
    got.forEach((p, i) =>
      assert.ok(Math.abs(p - want[i]!) < 1e-5, `row ${i}: onnxruntime ${p} vs reference ${want[i]}`),
    );
  });
}

test('large ids are scaled so the sigmoid is not saturated', async () => {
  const m = buildCtrModel({ features: 12 });
  const cols = exampleCtrInputs(m.features, BATCH, 5);
  cols.item_id = [12345, 99_999, 1];
  cols.user_id = [999_999, 500_000, 1];
  const { prob } = await loadAndRun(m, cols);
  for (const p of prob.data as Float32Array) assert.ok(p > 0.01 && p < 0.99, `prob ${p}`);
});

test('same seed and version give identical bytes; versions and seeds give different weights', async () => {
  const a = buildCtrModel({ features: 10, seed: 11, version: 1 });
  assert.deepEqual(buildCtrModel({ features: 10, seed: 11, version: 1 }).bytes, a.bytes);
  const b = buildCtrModel({ features: 10, seed: 11, version: 2 });
  const c = buildCtrModel({ features: 10, seed: 12, version: 1 });
  assert.notDeepEqual(b.weights.w1, a.weights.w1);
  assert.notDeepEqual(c.weights.w1, a.weights.w1);

  const cols = exampleCtrInputs(a.features, BATCH);
  const [pa, pa2, pb] = await Promise.all(
    [a, buildCtrModel({ features: 10, seed: 11, version: 1 }), b].map((m) => loadAndRun(m, cols)),
  );
  assert.deepEqual(Array.from(pa2!.prob.data as Float32Array), Array.from(pa!.prob.data as Float32Array));
  const da = Array.from(pa!.prob.data as Float32Array);
  const db = Array.from(pb!.prob.data as Float32Array);
  assert.ok(
    da.some((p, i) => Math.abs(p - db[i]!) > 1e-3),
    `version swap should show in outputs: ${da} vs ${db}`,
  );
});

test('the file records opset, IR version, producer and model version', () => {
  const m = decodeOnnxModel(buildCtrModel({ features: 4, version: 3 }).bytes);
  assert.equal(m.ir_version, CTR_IR_VERSION);
  assert.deepEqual(
    m.opset_import.map((o) => [o.domain ?? '', o.version]),
    [['', CTR_OPSET]],
  );
  assert.equal(m.producer_name, 'leakscope');
  assert.equal(m.model_version, 3);
  assert.equal(m.graph.input.length, 4);
  assert.deepEqual(m.graph.input[0]!.type.tensor_type.shape.dim, [{ dim_param: 'batch' }, { dim_value: 1 }]);
});

test('bad builder options are LS_ERR_INVALID_OPTION errors naming the option', () => {
  for (const [opts, name] of [
    [{ features: 0 }, 'features'],
    [{ features: 2.5 }, 'features'],
    [{ hidden: 0 }, 'hidden'],
    [{ seed: -1 }, 'seed'],
    [{ version: -1 }, 'version'],
  ] as const) {
    assert.throws(
      () => buildCtrModel(opts),
      (e: unknown) => isLsError(e) && e.code === 'LS_ERR_INVALID_OPTION' && e.message.startsWith(name),
      JSON.stringify(opts),
    );
  }
});
