import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PhaseResult } from '../../common/run-format.js';
import { startPhaseLoad } from '../../scenarios/phase-load.js';
import { inputSpecsFromMetadata } from '../../scenarios/predict-requests.js';
import { applyOverrides, parseScenario, plannedRequests } from '../../scenarios/scenario.js';
import { getJson, withModelServer } from '../helpers/model-server.js';
import { assertAccounted } from '../helpers/phase-accounting.js';

const scenario = (phases: unknown[]) => parseScenario({ name: 'x', phases }, 'test.yaml', '.');

// Issue 12's reproduction: REST phases planned 60, 240, 360 and 300 requests sent 90, 300,
// 420 and 329–486 through autocannon, and sent exceeded completed + dropped + errors.
test('REST and HTTP phases send what they planned, on the phase schedule (ramps, Poisson), and every request is accounted for', async () => {
  await withModelServer({ mode: 'patched', features: 4 }, async ({ rest }) => {
    const inputs = inputSpecsFromMetadata((await getJson(`${rest}/v1/models/ctr/metadata`)).body);
    const def = scenario([
      { name: 'warm', transport: 'rest', rate: 60, durationS: 1 },
      { name: 'steady', transport: 'rest', rate: 240, durationS: 1, order: 'permutations', permutations: 24 },
      { name: 'ramp', transport: 'rest', rate: 120, rateTo: 600, durationS: 1, maxInflight: 128 },
      {
        name: 'poisson',
        transport: 'http',
        rate: 300,
        durationS: 1,
        arrivals: 'poisson',
        http: { method: 'GET', path: '/v1/models/ctr' },
      },
    ]);
    const results: PhaseResult[] = [];
    for (const [i, p] of def.phases.entries()) {
      const load = await startPhaseLoad(
        p,
        { http: rest, model: 'ctr', inputs, baseDir: '.' },
        new AbortController().signal,
        7 + i,
      );
      const r = await load.done;
      assert.equal(load.planned, r.planned);
      results.push(r);
    }
    const [warm, steady, ramp, poisson] = results as [PhaseResult, PhaseResult, PhaseResult, PhaseResult];
    for (const r of results) {
      assertAccounted(r);
      assert.ok(r.sent <= r.planned, `${r.name}: sent ${r.sent} of ${r.planned} planned`);
      assert.ok(r.latencyFromIntended && r.latencyFromSent, `${r.name}: both latencies`);
      assert.equal(r.cut, 0, `${r.name}: a 1 s phase of ≤ 600/s drains within 10 s`);
    }
    // Uniform phases plan the scenario's count (±1 at the boundary); Poisson draws around it.
    for (const [r, p] of [
      [warm, def.phases[0]!],
      [steady, def.phases[1]!],
      [ramp, def.phases[2]!],
    ] as const) {
      assert.ok(Math.abs(r.planned - plannedRequests(p)!) <= 1, `${r.name}: planned ${r.planned}`);
    }
    assert.deepEqual([warm.planned, steady.planned, ramp.planned], [60, 240, 360]);
    assert.ok(Math.abs(poisson.planned - 300) < 4 * Math.sqrt(300), `poisson planned ${poisson.planned}`);
    assert.equal(warm.transport, 'rest');
    assert.equal(poisson.transport, 'http');
    // Every request sent is answered: 200, or 429 where the patched server's thread cap sheds a burst.
    for (const r of results) {
      const answered = (r.statusCounts['200'] ?? 0) + (r.statusCounts['429'] ?? 0);
      assert.equal(answered, r.sent, `${r.name}: ${JSON.stringify(r.statusCounts)}`);
      assert.ok((r.statusCounts['200'] ?? 0) > 0, `${r.name}: ${JSON.stringify(r.statusCounts)}`);
    }
  });
});

test('a closed-loop phase (connections: N) runs on autocannon and lands in the same result shape', async () => {
  await withModelServer({ mode: 'patched', features: 4 }, async ({ rest }) => {
    const inputs = inputSpecsFromMetadata((await getJson(`${rest}/v1/models/ctr/metadata`)).body);
    const def = scenario([
      { name: 'count', transport: 'rest', connections: 4, requests: 40 },
      {
        name: 'timed',
        transport: 'http',
        connections: 2,
        durationS: 1,
        http: { method: 'GET', path: '/v1/models/ctr' },
      },
    ]);
    const target = { http: rest, model: 'ctr', inputs, baseDir: '.' };
    const count = await startPhaseLoad(def.phases[0]!, target, new AbortController().signal, 1);
    assert.equal(count.planned, 40);
    const c = await count.done;
    assert.equal(c.planned, 40);
    assert.equal(c.completed, 40);
    assert.equal(c.dropped, 0);
    assert.equal(c.cut, 0);
    assert.deepEqual(c.statusCounts, { '200': 40 });
    assert.equal(c.latencyFromIntended, undefined, 'a closed loop has no intended send times');
    assert.equal(c.latencyFromSent!.count, 40);

    const timed = await startPhaseLoad(def.phases[1]!, target, new AbortController().signal, 2);
    const t = await timed.done;
    assert.equal(t.transport, 'http');
    assert.equal(t.dropped, 0);
    assert.equal(t.planned, t.sent, 'a closed loop for a duration plans what it sent');
    assert.equal(t.sent, t.completed + t.cut!, JSON.stringify(t));
    assert.ok(t.cut! <= 2, 'at most one request per connection is cut at the end');
    assert.ok(t.completed > 10, `completed ${t.completed}`);
  });
});

test('scenario phases: rate or connections; a closed loop refuses a ramp and gRPC, naming the field', () => {
  assert.throws(
    () => scenario([{ name: 'a', durationS: 1 }]),
    /phases\[0\]\.rate: is required \(requests per second\), or connections/,
  );
  assert.throws(
    () => scenario([{ name: 'a', transport: 'rest', connections: 4, rate: 10, rateTo: 20, durationS: 1 }]),
    /phases\[0\]\.rateTo: cannot be used with connections/,
  );
  assert.throws(
    () => scenario([{ name: 'a', connections: 4, durationS: 1 }]),
    /phases\[0\]\.transport: must be rest or http with connections .*got grpc/,
  );
  assert.throws(
    () => scenario([{ name: 'a', transport: 'rest', connections: 0, durationS: 1 }]),
    /phases\[0\]\.connections/,
  );
  const ok = scenario([{ name: 'a', transport: 'rest', connections: 4, durationS: 1 }]);
  assert.equal(ok.phases[0]!.rate, undefined);
  assert.equal(plannedRequests(ok.phases[0]!), undefined);
});

test('run overrides (--rate, --requests, --transport) leave closed-loop phases as written', () => {
  const def = scenario([
    { name: 'open', transport: 'rest', rate: 10, durationS: 2, steady: true },
    { name: 'closed', transport: 'rest', connections: 4, durationS: 1, steady: true },
  ]);
  const o = applyOverrides(def, { rate: 50, requests: 300, transport: 'grpc' });
  assert.deepEqual(o.phases[1], def.phases[1]);
  assert.equal(o.phases[0]!.rate, 50);
  assert.equal(o.phases[0]!.requests, 300, 'the open phase takes the whole count');
  assert.equal(o.phases[0]!.transport, 'grpc');
});
