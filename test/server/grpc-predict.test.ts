import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import ort from 'onnxruntime-node';
import protobuf from 'protobufjs';
import { GrpcCode } from '../../common/errors.js';
import { ctrTensors, withModelServer } from '../helpers/model-server.js';
import { toOrt } from '../../server/inference.js';

/** prob for the inputs, computed by onnxruntime directly on the model file. */
async function directProb(file: string, inputs: ReturnType<typeof ctrTensors>): Promise<number[]> {
  const s = await ort.InferenceSession.create(file);
  try {
    const out = await s.run(Object.fromEntries(inputs.map(([n, t]) => [n, toOrt(t)])));
    return Array.from(out.prob!.data as Float32Array);
  } finally {
    await s.release();
  }
}

test('Predict over gRPC: typed *_val and tensor_content encodings both match onnxruntime run directly', async () => {
  await withModelServer({}, async ({ grpc, modelDir }) => {
    const inputs = ctrTensors(10, 3);
    const want = await directProb(join(modelDir, '1', 'model.onnx'), inputs);
    for (const enc of ['typed', 'content'] as const) {
      const res = await grpc.predict({ name: 'ctr' }, inputs, [], enc);
      const prob = res.outputs.prob!;
      assert.equal(prob.dtype, 1, 'DT_FLOAT');
      assert.deepEqual(
        prob.tensor_shape?.dim?.map((d) => Number(d.size)),
        [3, 1],
      );
      assert.equal(prob.float_val?.length, 3);
      prob.float_val!.forEach((v, i) =>
        assert.ok(Math.abs(v - want[i]!) < 1e-6, `${enc} row ${i}: ${v} vs ${want[i]}`),
      );
      assert.equal(res.model_spec?.name, 'ctr');
      assert.equal(Number(res.model_spec?.version?.value), 1);
      assert.equal(res.model_spec?.signature_name, 'serving_default');
    }
  });
});

test('Predict accepts ModelSpec by version (Int64Value), by version_label, and the default signature name', async () => {
  await withModelServer({ versions: [1, 2] }, async ({ server, root, grpc, modelDir }) => {
    // Single-model flags serve the latest only; a config file serves both with labels.
    assert.equal(Number((await grpc.predict({ name: 'ctr' }, ctrTensors())).model_spec?.version?.value), 2);
    await assert.rejects(
      grpc.predict({ name: 'ctr', version: 1 }, ctrTensors()),
      (e: any) => e.code === GrpcCode.NOT_FOUND && /version 1/.test(e.details),
    );
    const cfg = join(root, 'models.json');
    await writeFile(
      cfg,
      JSON.stringify({
        model_config_list: [
          {
            name: 'ctr',
            base_path: modelDir,
            model_version_policy: { all: {} },
            version_labels: { stable: 1, canary: 2 },
          },
        ],
      }),
    );
    await server.repository.setSources((await import('../../server/model-config.js')).readModelConfigFile(cfg));
    const v1 = await grpc.predict({ name: 'ctr', version: 1 }, ctrTensors());
    const stable = await grpc.predict({ name: 'ctr', label: 'stable' }, ctrTensors());
    const canary = await grpc.predict({ name: 'ctr', label: 'canary', signatureName: 'serving_default' }, ctrTensors());
    assert.equal(Number(v1.model_spec?.version?.value), 1);
    assert.equal(Number(stable.model_spec?.version?.value), 1);
    assert.equal(Number(canary.model_spec?.version?.value), 2);
    assert.notEqual(
      canary.outputs.prob!.float_val![0],
      stable.outputs.prob!.float_val![0],
      'versions differ in weights',
    );
    await assert.rejects(
      grpc.predict({ name: 'ctr', label: 'nope' }, ctrTensors()),
      (e: any) => e.code === GrpcCode.NOT_FOUND && /label 'nope'/.test(e.details),
    );
    await assert.rejects(
      grpc.predict({ name: 'ctr', signatureName: 'classify_x' }, ctrTensors()),
      (e: any) => e.code === GrpcCode.INVALID_ARGUMENT && /classify_x/.test(e.details),
    );
  });
});

test('output_filter is honoured and checked', async () => {
  await withModelServer({}, async ({ grpc }) => {
    const res = await grpc.predict({ name: 'ctr' }, ctrTensors(), ['prob']);
    assert.deepEqual(Object.keys(res.outputs), ['prob']);
    await assert.rejects(
      grpc.predict({ name: 'ctr' }, ctrTensors(), ['logits']),
      (e: any) => e.code === GrpcCode.INVALID_ARGUMENT && /'logits'/.test(e.details),
    );
  });
});

test('GetModelMetadata returns the serving_default SignatureDef in an Any; GetModelStatus reports AVAILABLE', async () => {
  await withModelServer({}, async ({ grpc }) => {
    const md = await grpc.metadata({ name: 'ctr' });
    assert.equal(md.typeUrl, 'type.googleapis.com/tensorflow.serving.SignatureDefMap');
    assert.equal(md.modelSpec?.name, 'ctr');
    const sig = md.signatureDefs.serving_default as any;
    assert.equal(sig.method_name, 'tensorflow/serving/predict');
    assert.equal(Object.keys(sig.inputs).length, 10);
    assert.equal(sig.inputs.user_age.dtype, 1); // DT_FLOAT
    assert.equal(sig.inputs.item_id.dtype, 9); // DT_INT64
    assert.deepEqual(
      sig.inputs.user_age.tensor_shape.dim.map((d: any) => Number(d.size)),
      [-1, 1],
    );
    assert.deepEqual(Object.keys(sig.outputs), ['prob']);
    await assert.rejects(
      grpc.metadata({ name: 'ctr' }, []),
      (e: any) => e.code === GrpcCode.INVALID_ARGUMENT && /metadata_field/.test(e.details),
    );
    const st = await grpc.status({ name: 'ctr' });
    assert.deepEqual(
      st.model_version_status?.map((v) => [Number(v.version), v.state]),
      [[1, 30]],
    );
    await assert.rejects(
      grpc.status({ name: 'nope' }),
      (e: any) => e.code === GrpcCode.NOT_FOUND && /'nope'/.test(e.details),
    );
  });
});

test('Classify, Regress and MultiInference answer UNIMPLEMENTED with a clear message', async () => {
  await withModelServer({}, async ({ grpc }) => {
    for (const m of ['Classify', 'Regress', 'MultiInference']) {
      await assert.rejects(
        grpc.raw(`/tensorflow.serving.PredictionService/${m}`, Buffer.alloc(0)),
        (e: any) => e.code === GrpcCode.UNIMPLEMENTED && e.details.includes(m),
      );
    }
  });
});

test('wire compatibility: a request hand-encoded from the field numbers alone (as an official-proto client would send it)', async () => {
  await withModelServer({ features: 2 }, async ({ grpc }) => {
    // PredictRequest{model_spec=1{name=1, version=2{value=1}, signature_name=3}, inputs=2 map entries{key=1, value=2 TensorProto}}
    // TensorProto{dtype=1, tensor_shape=2{dim=2{size=1}}, float_val=5 packed, int64_val=10 packed}
    const w = protobuf.Writer.create();
    w.uint32(10)
      .fork()
      .uint32(10)
      .string('ctr')
      .uint32(18)
      .fork()
      .uint32(8)
      .int64(1)
      .ldelim()
      .uint32(26)
      .string('serving_default')
      .ldelim();
    const tensor = (dtype: number, field: number, write: (w: protobuf.Writer) => void) => {
      const t = protobuf.Writer.create();
      t.uint32(8).int32(dtype);
      t.uint32(18)
        .fork()
        .uint32(18)
        .fork()
        .uint32(8)
        .int64(1)
        .ldelim()
        .uint32(18)
        .fork()
        .uint32(8)
        .int64(1)
        .ldelim()
        .ldelim();
      t.uint32((field << 3) | 2).fork();
      write(t);
      t.ldelim();
      return t.finish();
    };
    const entry = (name: string, bytes: Uint8Array) =>
      w.uint32(18).fork().uint32(10).string(name).uint32(18).bytes(bytes).ldelim();
    entry(
      'item_id',
      tensor(9, 10, (t) => t.int64(4242)),
    );
    entry(
      'user_age',
      tensor(1, 5, (t) => t.float(31)),
    );
    const res = await grpc.raw('/tensorflow.serving.PredictionService/Predict', w.finish() as Buffer);
    // PredictResponse{outputs=1 map{key=1, value=2 TensorProto}, model_spec=2}: read it field by field.
    const r = protobuf.Reader.create(res);
    let key = '';
    let prob = NaN;
    let modelName = '';
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag === 10) {
        const end = r.uint32() + r.pos;
        while (r.pos < end) {
          const et = r.uint32();
          if (et === 10) key = r.string();
          else if (et === 18) {
            const tend = r.uint32() + r.pos;
            while (r.pos < tend) {
              const tt = r.uint32();
              if (tt === 42) {
                const pend = r.uint32() + r.pos;
                prob = r.float();
                r.pos = pend;
              } else r.skipType(tt & 7);
            }
          } else r.skipType(et & 7);
        }
      } else if (tag === 18) {
        const end = r.uint32() + r.pos;
        while (r.pos < end) {
          const st = r.uint32();
          if (st === 10) modelName = r.string();
          else r.skipType(st & 7);
        }
      } else r.skipType(tag & 7);
    }
    assert.equal(key, 'prob');
    assert.equal(modelName, 'ctr');
    assert.ok(prob > 0 && prob < 1, `prob ${prob}`);
    const viaClient = await grpc.predict({ name: 'ctr' }, [
      ['item_id', { dtype: 'int64', dims: [1, 1], data: BigInt64Array.of(4242n) }],
      ['user_age', { dtype: 'float32', dims: [1, 1], data: Float32Array.of(31) }],
    ]);
    assert.equal(viaClient.outputs.prob!.float_val![0], prob);
  });
});
