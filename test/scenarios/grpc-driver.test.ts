import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GrpcCode } from '../../common/errors.js';
import { decodeLatencyHistogram } from '../../scenarios/latency.js';
import { openGrpcChannels, startGrpcPhase } from '../../scenarios/grpc-driver.js';
import { planArrivals } from '../../scenarios/schedule.js';
import { startTrivialGrpcServer, TRIVIAL_PATH } from '../helpers/trivial-grpc-server.js';

const body = Buffer.from([8, 1]);
const request = () => body;

test('achieved rate within tolerance of the planned rate, all OK, over several channels', async () => {
  const srv = await startTrivialGrpcServer();
  try {
    const schedule = planArrivals({ kind: 'constant', rate: 200, durationS: 2 });
    const phase = startGrpcPhase({
      name: 'steady',
      address: srv.address,
      path: TRIVIAL_PATH,
      schedule,
      request,
      channels: 3,
    });
    const r = await phase.done;
    assert.equal(r.planned, 400);
    assert.equal(r.sent, 400);
    assert.equal(r.completed, 400);
    assert.equal(r.dropped, 0);
    assert.deepEqual(r.statusCounts, { OK: 400 });
    assert.equal(r.errors, 0);
    assert.equal(srv.received(), 400);
    // Generous: the 2-CPU runner is shared, and drain time counts in the rate.
    assert.ok(r.achievedRate > 200 * 0.5 && r.achievedRate < 200 * 1.1, `rate ${r.achievedRate}`);
    // Requests leave on time: the median send lateness is small next to the 5 ms spacing × 2 s.
    assert.ok(r.latencyFromIntended!.p50Ms - r.latencyFromSent!.p50Ms < 100, 'median send lateness');
    assert.equal(r.transport, 'grpc');
    assert.ok(r.driverCpuUsPerRequest! > 0);
    assert.deepEqual(phase.live, { sent: 400, completed: 400, inflight: 0, dropped: 0, errors: 0 });
    // The encoded histogram round-trips.
    const h = decodeLatencyHistogram(r.latencyFromSent!.hdr!);
    assert.equal(h.totalCount, 400);
    h.destroy();
  } finally {
    await srv.close();
  }
});

test('a stalled server: the in-flight bound drops requests instead of delaying them; latency from intended ≥ from sent', async () => {
  const srv = await startTrivialGrpcServer({ stall: true });
  try {
    const schedule = planArrivals({ kind: 'constant', rate: 200, durationS: 1.5 });
    const phase = startGrpcPhase({
      name: 'stall',
      address: srv.address,
      path: TRIVIAL_PATH,
      schedule,
      request,
      maxInflight: 20,
    });
    // Release the stall after 1 s: 20 calls are held, everything due meanwhile is dropped.
    setTimeout(() => {
      assert.equal(phase.live.inflight, 20);
      srv.behaviour.stall = false;
      srv.release();
    }, 1000);
    const r = await phase.done;
    assert.equal(r.planned, 300);
    assert.equal(r.sent + r.dropped, 300);
    // ~180 fall due while 20 are held (more if the release timer fires late on a busy runner).
    assert.ok(r.dropped >= 150 && r.dropped <= 280, `dropped ${r.dropped}`);
    assert.ok(r.sent >= 20);
    assert.equal(r.completed, r.sent);
    const fi = r.latencyFromIntended!;
    const fs = r.latencyFromSent!;
    assert.ok(fi.p50Ms >= fs.p50Ms && fi.p99Ms >= fs.p99Ms && fi.maxMs >= fs.maxMs);
    // The 20 held calls waited ~1 s; both measures see it, but nothing is hidden.
    assert.ok(fi.maxMs > 500, `max ${fi.maxMs}`);
  } finally {
    await srv.close();
  }
});

test('latency from intended is clearly larger than from sent when the driver itself falls behind', async () => {
  const srv = await startTrivialGrpcServer();
  try {
    const schedule = planArrivals({ kind: 'constant', rate: 500, durationS: 1 });
    const phase = startGrpcPhase({ name: 'late', address: srv.address, path: TRIVIAL_PATH, schedule, request });
    // Block the event loop 300 ms: requests due meanwhile leave late, and that lateness counts.
    setTimeout(() => {
      const until = performance.now() + 300;
      while (performance.now() < until);
    }, 200);
    const r = await phase.done;
    assert.equal(r.completed, 500);
    const fi = r.latencyFromIntended!;
    const fs = r.latencyFromSent!;
    // ~150 requests fell due in the block and left up to 300 ms late (mean ~150 ms):
    // over 500 requests that adds ≥ 30 ms to the mean from intended, whatever the load.
    assert.ok(fi.meanMs - fs.meanMs > 30, `intended mean ${fi.meanMs} vs sent mean ${fs.meanMs}`);
    assert.ok(fi.maxMs > 250 && fi.p99Ms >= fs.p99Ms, `intended max ${fi.maxMs}`);
  } finally {
    await srv.close();
  }
});

test('status codes counted by gRPC code name (RESOURCE_EXHAUSTED)', async () => {
  const srv = await startTrivialGrpcServer({ failCode: GrpcCode.RESOURCE_EXHAUSTED });
  const clients = openGrpcChannels(srv.address, 2);
  try {
    const r1 = await startGrpcPhase({
      name: 'refused',
      clients,
      path: TRIVIAL_PATH,
      schedule: planArrivals({ kind: 'constant', rate: 200, requests: 100 }),
      request,
    }).done;
    assert.deepEqual(r1.statusCounts, { RESOURCE_EXHAUSTED: 100 });
    assert.equal(r1.errors, 100);
    // Same channels, next phase: half fail.
    srv.behaviour.failCode = undefined;
    const r2 = await startGrpcPhase({
      name: 'ok',
      clients,
      path: TRIVIAL_PATH,
      schedule: planArrivals({ kind: 'constant', rate: 200, requests: 50 }),
      request,
    }).done;
    assert.deepEqual(r2.statusCounts, { OK: 50 });
    // An unknown method is UNIMPLEMENTED, counted the same way.
    const r3 = await startGrpcPhase({
      name: 'nomethod',
      clients,
      path: '/test.Trivial/Nope',
      schedule: planArrivals({ kind: 'constant', rate: 200, requests: 10 }),
      request,
    }).done;
    assert.deepEqual(r3.statusCounts, { UNIMPLEMENTED: 10 });
  } finally {
    for (const c of clients) c.close();
    await srv.close();
  }
});

test('AbortSignal stops early and keeps partial results; stalled calls are cancelled after the drain', async () => {
  const srv = await startTrivialGrpcServer({ delayMs: 5 });
  try {
    const ac = new AbortController();
    const schedule = planArrivals({ kind: 'constant', rate: 200, durationS: 10 });
    const phase = startGrpcPhase({
      name: 'aborted',
      address: srv.address,
      path: TRIVIAL_PATH,
      schedule,
      request,
      signal: ac.signal,
    });
    setTimeout(() => ac.abort(), 500);
    const t0 = performance.now();
    const r = await phase.done;
    assert.ok(performance.now() - t0 < 2000);
    assert.equal(r.planned, 2000);
    assert.ok(r.sent > 50 && r.sent < 200, `sent ${r.sent}`);
    assert.equal(r.completed, r.sent);
    assert.equal(r.statusCounts['OK'], r.completed);
    assert.equal(r.latencyFromIntended!.count, r.completed);

    srv.behaviour.stall = true;
    const ac2 = new AbortController();
    const p2 = startGrpcPhase({
      name: 'stuck',
      address: srv.address,
      path: TRIVIAL_PATH,
      schedule,
      request,
      signal: ac2.signal,
      drainMs: 200,
    });
    setTimeout(() => ac2.abort(), 300);
    const r2 = await p2.done;
    assert.ok(r2.sent > 20);
    // Nothing answered within the drain: every sent call is cut, none counted as completed.
    assert.equal(r2.cut, r2.sent);
    assert.equal(r2.completed, 0);
    assert.deepEqual(r2.statusCounts, {});
  } finally {
    await srv.close();
  }
});

test('bad options are refused naming the option', () => {
  assert.throws(
    () => startGrpcPhase({ name: 'x', schedule: new Float64Array(1), request, maxInflight: 0, address: '127.0.0.1:1' }),
    /maxInflight/,
  );
  assert.throws(() => startGrpcPhase({ name: 'x', schedule: new Float64Array(1), request }), /address/);
  assert.throws(
    () => startGrpcPhase({ name: 'x', schedule: new Float64Array(1), request, address: 'a:1', path: 'Predict' }),
    /path/,
  );
});
