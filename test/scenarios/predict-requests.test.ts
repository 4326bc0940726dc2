import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LsError } from '../../common/errors.js';
import { tfTypes } from '../../wire/proto-root.js';
import {
  inputSpecsFromMetadata,
  planInputOrders,
  predictRequests,
  restPredictPath,
  type InputSpec,
} from '../../scenarios/predict-requests.js';

const INPUTS: InputSpec[] = [
  { name: 'user_age', dtype: 'float32', dims: [-1, 1] },
  { name: 'item_id', dtype: 'int64', dims: [-1, 1] },
  { name: 'clicked', dtype: 'bool', dims: [-1] },
  { name: 'score', dtype: 'float64', dims: [-1, 2] },
  { name: 'bucket', dtype: 'int32', dims: [-1, 1] },
];
const names = INPUTS.map((s) => s.name);
const distinct = (orders: string[][]) => new Set(orders.map((o) => o.join(','))).size;

test('fixed, sorted and K permutations give exactly the planned distinct orders', () => {
  assert.deepEqual(
    planInputOrders(names, { kind: 'fixed' })
      .order(0)
      .map((k) => names[k]),
    names,
  );
  assert.deepEqual(
    planInputOrders(names, { kind: 'sorted' })
      .order(0)
      .map((k) => names[k]),
    [...names].sort(),
  );
  for (const k of [1, 7, 50, 119, 120, 500]) {
    const plan = planInputOrders(names, { kind: 'permutations', k }, 3);
    const want = Math.min(k, 120);
    assert.equal(plan.count, want);
    const orders = Array.from({ length: plan.count }, (_, j) => plan.order(j).map((x) => names[x]!));
    assert.equal(distinct(orders), want, `k=${k}`);
    for (const o of orders) assert.deepEqual([...o].sort(), [...names].sort());
  }
  // K=1 is one random order, fixed for the seed.
  const one = planInputOrders(names, { kind: 'permutations', k: 1 }, 5).order(0);
  assert.deepEqual(planInputOrders(names, { kind: 'permutations', k: 1 }, 5).order(0), one);
  // N > 18 goes through shuffles, still distinct.
  const many = Array.from({ length: 20 }, (_, i) => `f${i}`);
  const big = planInputOrders(many, { kind: 'permutations', k: 300 }, 1);
  assert.equal(distinct(Array.from({ length: 300 }, (_, j) => big.order(j).map(String))), 300);
});

test('requests follow the plan: round-robin covers all K orders, random draws are seeded; dtypes and shapes', () => {
  const reqs = predictRequests({
    model: { name: 'ctr' },
    inputs: INPUTS,
    order: { kind: 'permutations', k: 10 },
    batch: 3,
    seed: 4,
  });
  const rr = Array.from({ length: 30 }, (_, i) => reqs.namesFor(i));
  assert.equal(distinct(rr), 10);
  assert.deepEqual(rr[0], rr[10]);
  const t = tfTypes();
  for (let i = 0; i < 12; i++) {
    // gRPC bytes: map entries on the wire in the request's order, dtypes and shapes right.
    const bytes = reqs.grpc(i);
    const r = t.PredictRequest.decode(bytes) as unknown as {
      model_spec: { name: string };
      inputs: Record<
        string,
        { dtype: number; tensor_shape: { dim: Array<{ size: number | { toNumber(): number } }> } }
      >;
    };
    assert.equal(r.model_spec.name, 'ctr');
    assert.deepEqual(Object.keys(r.inputs), reqs.namesFor(i));
    const dims = (n: string) => r.inputs[n]!.tensor_shape.dim.map((d) => Number(d.size));
    assert.equal(r.inputs['user_age']!.dtype, 1);
    assert.equal(r.inputs['item_id']!.dtype, 9);
    assert.equal(r.inputs['clicked']!.dtype, 10);
    assert.equal(r.inputs['score']!.dtype, 2);
    assert.equal(r.inputs['bucket']!.dtype, 3);
    assert.deepEqual(dims('score'), [3, 2]);
    assert.deepEqual(dims('clicked'), [3]);
    // REST: the same order, columnar.
    const body = reqs.rest(i);
    assert.deepEqual(Object.keys(JSON.parse(body).inputs), reqs.namesFor(i));
    const cols = JSON.parse(body).inputs;
    assert.ok(Number.isInteger(cols.item_id[0][0]) && typeof cols.clicked[0] === 'boolean');
    assert.equal(cols.score.length, 3);
    assert.equal(cols.score[0].length, 2);
  }
  const rnd = predictRequests({
    model: { name: 'ctr' },
    inputs: INPUTS,
    order: { kind: 'permutations', k: 10, pick: 'random' },
    seed: 4,
  });
  const rnd2 = predictRequests({
    model: { name: 'ctr' },
    inputs: INPUTS,
    order: { kind: 'permutations', k: 10, pick: 'random' },
    seed: 4,
  });
  const drawn = Array.from({ length: 200 }, (_, i) => rnd.namesFor(i));
  assert.equal(distinct(drawn), 10);
  assert.deepEqual(rnd2.namesFor(123), drawn[123]);
  assert.notDeepEqual(drawn.slice(0, 10), drawn.slice(10, 20));
  // Row form keeps the order inside each instance.
  const rows = predictRequests({
    model: { name: 'ctr', signatureName: 'serving_default' },
    inputs: INPUTS,
    order: { kind: 'sorted' },
    batch: 2,
    restForm: 'row',
  });
  const j = JSON.parse(rows.rest(0));
  assert.equal(j.signature_name, 'serving_default');
  assert.equal(j.instances.length, 2);
  assert.deepEqual(Object.keys(j.instances[1]), [...names].sort());
  assert.equal(j.instances[0].score.length, 2);
  assert.equal(restPredictPath({ name: 'ctr', version: 2 }), '/v1/models/ctr/versions/2:predict');
});

test('input specs from gRPC and REST metadata shapes; bad policies name the field', () => {
  const grpcMeta = {
    signatureDefs: {
      serving_default: {
        inputs: {
          a: { name: 'a', dtype: 1, tensor_shape: { dim: [{ size: -1 }, { size: 1 }] } },
          b: { name: 'b', dtype: 9, tensor_shape: { dim: [{ size: -1 }] } },
        },
      },
    },
  };
  assert.deepEqual(inputSpecsFromMetadata(grpcMeta), [
    { name: 'a', dtype: 'float32', dims: [-1, 1] },
    { name: 'b', dtype: 'int64', dims: [-1] },
  ]);
  const restMeta = {
    metadata: {
      signature_def: {
        signature_def: {
          serving_default: {
            inputs: { a: { dtype: 'DT_FLOAT', tensor_shape: { dim: [{ size: '-1' }, { size: '1' }] } } },
          },
        },
      },
    },
  };
  assert.deepEqual(inputSpecsFromMetadata(restMeta), [{ name: 'a', dtype: 'float32', dims: [-1, 1] }]);
  const bad = (f: () => unknown, m: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_BAD_SCENARIO' && m.test(e.message));
  bad(() => inputSpecsFromMetadata({}), /signature_def/);
  bad(() => inputSpecsFromMetadata(grpcMeta, 'other'), /no signature 'other'/);
  bad(() => planInputOrders(names, { kind: 'permutations', k: 0 }, 1, 'phases[1].order'), /phases\[1\]\.order\.k/);
  bad(() => planInputOrders(names, { kind: 'shuffled' } as never), /order\.kind/);
  bad(
    () => predictRequests({ model: { name: 'm' }, inputs: INPUTS, batch: 0, where: 'phases[0]' }),
    /phases\[0\]\.batch/,
  );
});
