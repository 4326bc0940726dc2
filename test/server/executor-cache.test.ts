import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { distinctShuffles, mulberry32 } from '../../common/prng.js';
import { resolveFixes } from '../../common/fixes.js';
import { ctrFeatures } from '../../wire/models/ctr-model.js';
import { executorKey, inputOrderStrategy, LruStore, ModelSession, sessionStrategies } from '../../server/session.js';
import type { Signature, TensorSpec } from '../../server/signature.js';
import { ctrJsonColumns, ctrTensors, postJson, withModelServer } from '../helpers/model-server.js';

const FEATURES = ctrFeatures(10).map((f) => f.name);

function signature(): Signature {
  const inputs: TensorSpec[] = ctrFeatures(10).map((f) => ({
    name: f.name,
    dtype: f.dtype === 'int64' ? 'int64' : 'float32',
    dims: [-1, 1],
  }));
  const outputs: TensorSpec[] = [{ name: 'prob', dtype: 'float32', dims: [-1, 1] }];
  return {
    key: 'serving_default',
    methodName: 'tensorflow/serving/predict',
    inputs,
    outputs,
    inputIndex: new Map(inputs.map((s, i) => [s.name, i])),
    outputIndex: new Map([['prob', 0]]),
  };
}

/** K distinct permutations of the features, none equal to the model's order or to the sorted order. */
function permutations(k: number, seed = 7): string[][] {
  return distinctShuffles(FEATURES, k, mulberry32(seed), [FEATURES, [...FEATURES].sort()]);
}

/** Warm-up with the model's own order, then K other orders: the load of the shuffled-input scenario. */
function replay(mode: string | undefined, fixes: string | undefined, k: number, bound?: number) {
  const fx = resolveFixes(mode, fixes);
  const session = new ModelSession(signature(), sessionStrategies(fx, bound));
  const order = inputOrderStrategy(fx);
  const names = (p: string[]) => order(p.map((n) => [n, 0] as const)).map((e) => e[0]);
  let max = 0;
  for (const p of [FEATURES, FEATURES, ...permutations(k), ...permutations(k)]) {
    session.getOrCreateExecutor(names(p), ['prob']);
    max = Math.max(max, session.store.size);
  }
  return { session, max };
}

test("the cache key is upstream's, byte for byte", () => {
  assert.equal(executorKey(['b', 'a'], ['prob']), 'b,a->prob//0/');
  assert.equal(executorKey(['a'], ['x', 'y'], ['t'], true, 'dbg'), 'a->x,y/t/1/dbg');
});

test("leaky: K new input orders add K keys on top of the first request's two (sorted + unsorted, both inserted on a full miss)", () => {
  const k = 500;
  const { session } = replay('leaky', undefined, k);
  // Request 1 (model order, unsorted): miss, miss → insert sorted key and its own key = 2.
  // Request 2 (same order): unsorted hit. Each new order: sorted hit → insert its key = +1.
  // The second pass over the same K orders hits their unsorted keys: +0.
  assert.equal(session.store.size, 2 + k);
  assert.deepEqual(session.counters, { lookups: 2 + 2 * k, unsortedHits: 1 + k, sortedHits: k, misses: 1 });
  assert.ok([...session.store.keys()].includes(`${[...FEATURES].sort().join(',')}->prob//0/`));
  const ex = session.store.get(`${FEATURES.join(',')}->prob//0/`);
  assert.equal(
    ex,
    session.store.get(`${permutations(1)[0]!.join(',')}->prob//0/`),
    'every key maps to the one executor built from the sorted names',
  );
});

test('sort-inputs alone (TF Serving #1638): exactly one entry', () => {
  const { session } = replay(undefined, 'sort-inputs', 500);
  assert.equal(session.store.size, 1);
  assert.equal(session.counters.misses, 1);
});

test('no-unsorted-insert alone (TensorFlow #39743): the two keys of the first full miss, nothing after', () => {
  const { session } = replay(undefined, 'no-unsorted-insert', 500);
  // The first request still misses both lookups and inserts both keys (the PR only changes
  // the sorted-hit branch); every later new order is a sorted hit that inserts nothing.
  assert.equal(session.store.size, 2);
  assert.equal(session.counters.sortedHits, 1000);
});

test('bounded-cache alone: never above its bound, least recently used evicted', () => {
  const { session, max } = replay(undefined, 'bounded-cache', 500, 16);
  assert.equal(max, 16);
  assert.equal(session.store.size, 16);
  assert.ok((session.store as LruStore).evictions > 900);
  const lru = new LruStore(2);
  const ex = session.store.get([...session.store.keys()][0]!)!;
  lru.set('a', ex);
  lru.set('b', ex);
  lru.get('a');
  lru.set('c', ex);
  assert.deepEqual([...lru.keys()], ['a', 'c']);
  assert.throws(() => new LruStore(0), /executor-cache-size/);
});

test('heap used grows with K in leaky mode and not in patched mode', () => {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  const heapAfter = (mode: string) => {
    gc();
    const before = process.memoryUsage().heapUsed;
    const { session } = replay(mode, undefined, 20_000);
    gc();
    const grown = process.memoryUsage().heapUsed - before;
    return { grown, entries: session.store.size, keyBytes: session.store.keyBytes };
  };
  const leaky = heapAfter('leaky');
  const patched = heapAfter('patched');
  assert.equal(leaky.entries, 20_002);
  assert.equal(patched.entries, 1);
  // 20,000 keys of ~150 bytes each, plus map slots: several MB that stay reachable.
  assert.ok(leaky.keyBytes > 20_000 * 100);
  assert.ok(leaky.grown > 3_000_000, `leaky heap grew ${leaky.grown} bytes`);
  assert.ok(patched.grown < leaky.grown / 10, `patched heap grew ${patched.grown} bytes vs leaky ${leaky.grown}`);
});

test("over the wire the session sees the client's order: gRPC map entries and REST JSON keys", async () => {
  const orders = permutations(6, 99);
  for (const mode of ['leaky', 'patched'] as const) {
    await withModelServer({ mode }, async ({ server, grpc, rest }) => {
      for (const p of orders.slice(0, 3)) await grpc.predict({ name: 'ctr' }, ctrTensors(10, 1, p));
      for (const p of orders.slice(3)) {
        const r = await postJson(`${rest}/v1/models/ctr:predict`, { inputs: ctrJsonColumns(10, 1, p) });
        assert.equal(r.status, 200);
      }
      const [[, ms]] = [...server.predictor.modelSessions()] as [[unknown, ModelSession]];
      const keys = [...ms.store.keys()];
      if (mode === 'leaky') {
        // First request: both keys; five more orders: one key each.
        assert.equal(keys.length, 2 + 5);
        for (const p of orders) assert.ok(keys.includes(`${p.join(',')}->prob//0/`), `key for ${p.join(',')}`);
      } else {
        assert.deepEqual(keys, [`${[...FEATURES].sort().join(',')}->prob//0/`]);
      }
    });
  }
});
