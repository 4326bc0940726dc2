import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startHttpPhase, startRestPhase, tfRestRequest } from '../../scenarios/rest-driver.js';
import { httpRequestFactory } from '../../scenarios/http-templates.js';
import { inputSpecsFromMetadata, predictRequests, restPredictPath } from '../../scenarios/predict-requests.js';
import { planArrivals } from '../../scenarios/schedule.js';
import type { ModelSession } from '../../server/session.js';
import { getJson, withModelServer } from '../helpers/model-server.js';

const cacheKeys = (server: { predictor: { modelSessions(): Iterable<[unknown, ModelSession]> } }) => {
  const [[, ms]] = [...server.predictor.modelSessions()] as [[unknown, ModelSession]];
  return [...ms.store.keys()];
};

test('REST drivers against the reference server: per-request bodies in different key orders reach the executor cache', async () => {
  for (const mode of ['leaky', 'patched'] as const) {
    await withModelServer({ mode, features: 4 }, async ({ server, rest }) => {
      const inputs = inputSpecsFromMetadata((await getJson(`${rest}/v1/models/ctr/metadata`)).body);
      assert.equal(inputs.length, 4);
      const reqs = predictRequests({ model: { name: 'ctr' }, inputs, order: { kind: 'permutations', k: 24 }, seed: 2 });
      const request = tfRestRequest(restPredictPath({ name: 'ctr' }), reqs.rest);

      // autocannon: a request count, paced by a rate.
      const a = await startRestPhase({
        name: 'autocannon',
        url: rest,
        request,
        requests: 48,
        rate: 200,
        connections: 4,
      }).done;
      assert.equal(a.completed, 48);
      assert.deepEqual(a.statusCounts, { '200': 48 });
      assert.equal(a.errors, 0);
      assert.equal(a.latencyFromSent!.count, 48);
      assert.equal(a.transport, 'rest');
      assert.ok(a.driverCpuUsPerRequest! > 0);
      const keys = cacheKeys(server);
      // 24 orders (all of 4!, the sorted one among them), round-robin over 48 requests:
      // leaky keeps one key per order seen, patched one key in all.
      if (mode === 'leaky') assert.equal(keys.length, 24, `leaky keys ${keys.length}`);
      else assert.equal(keys.length, 1);

      // Open model over node:http: planned times, drops, both latencies.
      const o = await startHttpPhase({
        name: 'open',
        url: rest,
        request,
        schedule: planArrivals({ kind: 'constant', rate: 100, requests: 30 }),
      }).done;
      assert.equal(o.completed, 30);
      assert.deepEqual(o.statusCounts, { '200': 30 });
      assert.ok(o.latencyFromIntended!.p50Ms >= o.latencyFromSent!.p50Ms);
    });
  }
});

test('any HTTP endpoint: templated requests, non-2xx counted by status', async () => {
  await withModelServer({ mode: 'patched', features: 4 }, async ({ rest }) => {
    const request = httpRequestFactory({ method: 'GET', path: '/v1/models/{{choice ctr nope}}' }, 'http');
    const r = await startRestPhase({
      name: 'generic',
      url: rest,
      request,
      requests: 40,
      connections: 2,
      transport: 'http',
    }).done;
    assert.equal(r.completed, 40);
    assert.equal((r.statusCounts['200'] ?? 0) + (r.statusCounts['404'] ?? 0), 40);
    assert.ok(r.statusCounts['200']! > 5 && r.statusCounts['404']! > 5, JSON.stringify(r.statusCounts));
    assert.equal(r.errors, r.statusCounts['404']);
    const o = await startHttpPhase({
      name: 'generic-open',
      url: rest,
      request,
      transport: 'http',
      schedule: planArrivals({ kind: 'constant', rate: 100, requests: 40 }),
    }).done;
    assert.equal(o.statusCounts['200']! + o.statusCounts['404']!, 40);
    assert.equal(o.statusCounts['404'], r.statusCounts['404'], 'same seeded choices');
  });
});

test('REST driver: abort keeps partial results; bad options name the option', async () => {
  await withModelServer({ mode: 'patched', features: 4 }, async ({ rest }) => {
    const ac = new AbortController();
    const request = httpRequestFactory({ path: '/v1/models/ctr' });
    const p = startRestPhase({
      name: 'cut',
      url: rest,
      request,
      rate: 50,
      durationS: 20,
      connections: 2,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 600);
    const t0 = performance.now();
    const r = await p.done;
    assert.ok(performance.now() - t0 < 5000);
    assert.ok(r.completed > 5 && r.completed < 200, `completed ${r.completed}`);
    assert.equal(r.planned, 1000);
  });
  assert.throws(
    () =>
      startRestPhase({
        name: 'x',
        url: 'ftp://a',
        request: () => ({ method: 'GET', path: '/', headers: {} }),
        requests: 1,
      }),
    /url/,
  );
  assert.throws(
    () => startRestPhase({ name: 'x', url: 'http://a', request: () => ({ method: 'GET', path: '/', headers: {} }) }),
    /durationS/,
  );
  assert.throws(
    () =>
      startHttpPhase({
        name: 'x',
        url: 'http://a',
        request: () => ({ method: 'GET', path: '/', headers: {} }),
        schedule: new Float64Array(1),
        maxInflight: -1,
      }),
    /maxInflight/,
  );
});
