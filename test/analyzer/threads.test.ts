import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { PhaseRecord, Sample } from '../../common/run-format.js';
import { analyzeThreads } from '../../analyzer/series/threads.js';
import { mulberry32 } from '../../common/prng.js';

const PHASES: PhaseRecord[] = [
  { name: 'steady', startMs: 0, endMs: 10_000, steady: true, transport: 'grpc', load: {} },
  { name: 'spike', startMs: 10_000, endMs: 20_000, steady: false, transport: 'grpc', load: {} },
  { name: 'recovery', startMs: 20_000, endMs: 30_000, steady: false, transport: 'grpc', load: {} },
];

/** A spike to ~60 in flight; `perRequest` threads per in-flight request, `cap` on handler threads, `stays` left after. */
function spikeRun(o: { perRequest: number; cap: number; stays: number; seed: number }): Sample[] {
  const r = mulberry32(o.seed);
  const out: Sample[] = [];
  for (let t = 0; t < 30_000; t += 250) {
    const phase = t < 10_000 ? 'steady' : t < 20_000 ? 'spike' : 'recovery';
    const inflight = phase === 'spike' ? 40 + Math.round(r() * 20) : Math.round(r() * 3);
    const handler =
      phase === 'recovery'
        ? Math.min(o.stays, o.cap) + Math.round(r())
        : Math.min(o.cap, Math.round(inflight * o.perRequest));
    out.push({
      t,
      phase,
      requests: t / 5,
      threads: 11 + handler,
      handlerThreads: handler,
      inflight,
      threadsByName: { node: 11 + handler },
    });
  }
  return out;
}

test('thread-per-request spike that never comes down: unbounded, stuck up', () => {
  const a = analyzeThreads(PHASES, spikeRun({ perRequest: 1, cap: Infinity, stays: 45, seed: 1 }))!;
  assert.equal(a.source, 'threads');
  assert.equal(a.spikePhase, 'spike');
  assert.equal(a.recoveryPhase, 'recovery');
  assert.ok(a.peak >= 11 + 55, `peak ${a.peak}`);
  assert.ok(a.baseline! <= 14);
  assert.ok(
    a.threadsPerInflight!.low > 0.8 && a.threadsPerInflight!.high <= 1.05,
    JSON.stringify(a.threadsPerInflight),
  );
  assert.equal(a.bounded, false);
  assert.equal(a.cameBackDown, false);
  assert.ok(a.afterRecovery! >= 55);
  const node = a.groups.find((g) => g.name === 'node')!;
  assert.equal(node.grew, true);
  assert.equal(node.cameBackDown, false);
  assert.match(a.reason, /no cap: threads followed in-flight load; did not come back down/);
});

test('capped pool: bounded, plateau at the cap, and back down after the spike', () => {
  const a = analyzeThreads(PHASES, spikeRun({ perRequest: 1, cap: 8, stays: 0, seed: 2 }))!;
  assert.equal(a.bounded, true);
  // A rise within what a cap allows is a pool doing its job: its return is not judged.
  assert.equal(a.cameBackDown, null);
  assert.equal(a.plateau, 19);
  assert.ok(a.threadsPerInflight!.high < 0.25);
  const handler = a.groups.find((g) => g.name === 'handler threads')!;
  assert.equal(handler.peak, 8);
  assert.equal(handler.cameBackDown, true);
  assert.match(a.reason, /bounded/);
});

test('uncapped spike that does come back down: unbounded but recovered', () => {
  const a = analyzeThreads(PHASES, spikeRun({ perRequest: 1, cap: Infinity, stays: 0, seed: 3 }))!;
  assert.equal(a.bounded, false);
  assert.equal(a.cameBackDown, true);
});

test('no thread series: null; handler gauge alone is used when /proc is not readable', () => {
  assert.equal(analyzeThreads(PHASES, [{ t: 0, phase: 'steady', requests: 0 }]), null);
  const only = spikeRun({ perRequest: 1, cap: 8, stays: 0, seed: 4 }).map(
    ({ threads: _t, threadsByName: _n, ...s }) => s,
  );
  const a = analyzeThreads(PHASES, only)!;
  assert.equal(a.source, 'handlerThreads');
  assert.equal(a.peak, 8);
});

test('slow thread start-up: threads lag the load but rise past 4 × CPUs + 4 — still no cap', () => {
  // Measured shape on a loaded 2-CPU machine: 200 in flight, threads +1 every ~60 ms.
  const samples: Sample[] = [];
  for (let t = 0; t < 30_000; t += 250) {
    const phase = t < 10_000 ? 'steady' : t < 20_000 ? 'spike' : 'recovery';
    const handler = phase === 'spike' ? 5 + Math.floor((t - 10_000) / 250) : 4;
    samples.push({
      t,
      phase,
      requests: t / 5,
      threads: 14 + handler,
      handlerThreads: handler,
      inflight: phase === 'spike' ? 200 : 2,
    });
  }
  const slow = analyzeThreads(PHASES, samples, { cpus: 2 })!;
  assert.ok(slow.threadsPerInflight!.estimate < 0.5, 'the ratio alone says bounded');
  assert.equal(slow.bounded, false);
  assert.match(slow.reason, /no cap: threads rose by \d+, past the 12 a 4 × CPUs cap allows/);
  assert.equal(analyzeThreads(PHASES, samples, { cpus: 64 })!.bounded, true, 'a 64-CPU default cap would allow it');
});

const CALM: PhaseRecord[] = [
  { name: 'warmup', startMs: 0, endMs: 4_000, steady: false, transport: 'http', load: { rate: 150 } },
  { name: 'load', startMs: 4_000, endMs: 24_000, steady: true, transport: 'http', load: { rate: 200 } },
];

/** 200 requests/s; a Worker from worker.js every `every` requests (0: never), each one OS thread; `exits` of them exit at once. */
function workerRun(o: { every: number; exits?: boolean; seed: number }): Sample[] {
  const r = mulberry32(o.seed);
  const out: Sample[] = [];
  let exited = 0;
  for (let t = 0; t < 24_000; t += 250) {
    const requests = Math.round(t / 5);
    const started = o.every ? Math.floor(requests / o.every) : 0;
    if (o.exits) exited = started;
    const live = started - exited;
    const threads = 11 + live + (r() < 0.2 ? 1 : 0);
    out.push({
      t,
      phase: t < 4_000 ? 'warmup' : 'load',
      requests,
      threads,
      threadsByName: { node: threads },
      workers: live,
      workersByScript: live ? { 'worker.js': live } : {},
      workersExited: exited,
    });
  }
  return out;
}

test('threads outside a spike: a Worker per 250 requests reads as a leak, per 1,000 requests, named by its script', () => {
  const a = analyzeThreads(CALM, workerRun({ every: 250, seed: 3 }))!;
  assert.equal(a.spikePhase, null);
  const g = a.growth!;
  assert.deepEqual(g.phases, ['load'], 'the steady phases only');
  assert.equal(g.leaking, true);
  assert.ok(g.perThousandRequests.low > 3.5 && g.perThousandRequests.high < 4.5, JSON.stringify(g.perThousandRequests));
  assert.equal(g.who, 'Worker threads from worker.js');
  assert.equal(g.exited, 0);
  assert.match(
    a.reason,
    /^Worker threads from worker\.js grow 4\.0 per 1,000 requests \(95% CI [\d.]+–[\d.]+\) and never exit/,
  );
  assert.doesNotMatch(a.reason, /spike/, 'no spike wording without a spike');
});

test('threads outside a spike: a constant pool and workers that exit are no leak; /proc names say who without an inspector', () => {
  const flat = analyzeThreads(CALM, workerRun({ every: 0, seed: 4 }))!;
  assert.equal(flat.growth!.leaking, false);
  assert.ok(flat.growth!.perThousandRequests.low < 1, JSON.stringify(flat.growth!.perThousandRequests));
  assert.doesNotMatch(flat.reason, /spike/);
  const churn = analyzeThreads(CALM, workerRun({ every: 250, exits: true, seed: 5 }))!;
  assert.equal(churn.growth!.leaking, false, churn.reason);
  // A native target: no workers, but its threads have names; the one that grew is named.
  const native = workerRun({ every: 250, seed: 6 }).map(({ workers, workersByScript, workersExited, ...s }) => ({
    ...s,
    threadsByName: { main: 1, grpcpp_sync_ser: s.threads! - 1 },
  }));
  const n = analyzeThreads(CALM, native)!.growth!;
  assert.equal(n.leaking, true);
  assert.equal(n.who, 'threads named grpcpp_sync_ser');
  assert.equal(n.exited, null);
  assert.match(n.headline, /^threads named grpcpp_sync_ser grow 4\.0 per 1,000 requests/);
  assert.doesNotMatch(n.headline, /never exit/, 'without worker exits observed, no claim about them');
});

test('a run with too few calm requests gets no growth estimate', () => {
  const short = workerRun({ every: 250, seed: 7 }).filter((s) => s.t < 4_500);
  assert.equal(analyzeThreads(CALM, short)!.growth, null);
});
