/**
 * The pool's ThreadManager rules on fake threads and a manual clock: which request starts a
 * thread, which thread takes work, which one leaves and when, and what a request is told when
 * admission refuses or its thread dies. (handler-threads.test.ts runs the same rules on real
 * worker_threads under load.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LsError } from '../../common/errors.js';
import { cappedAdmission, UNCAPPED_ADMISSION } from '../../server/thread-admission.js';
import {
  type PoolClock,
  type PoolJob,
  type PoolThread,
  type ThreadEvents,
  ThreadPool,
} from '../../server/thread-pool.js';

interface FakeJob extends PoolJob {
  readonly name: string;
  error: LsError | undefined;
}

/** What a request was told (read through a call: the assertions narrow property reads). */
const told = (j: FakeJob): LsError | undefined => j.error;

const job = (name: string): FakeJob => {
  const j: FakeJob = {
    name,
    error: undefined,
    reject(e) {
      assert.ok(e instanceof LsError, `a request was refused with a ${e?.constructor.name}, not an LsError`);
      j.error = e;
    },
  };
  return j;
};

class FakeThread implements PoolThread<FakeJob> {
  readonly jobs: FakeJob[] = [];
  exitAsked = false;
  constructor(
    readonly id: number,
    readonly events: ThreadEvents<FakeJob>,
  ) {}
  run(j: FakeJob): void {
    this.jobs.push(j);
  }
  exit(): void {
    this.exitAsked = true;
  }
  /** Its current request's name, as the pool hands it back. */
  finish(): string | undefined {
    return this.events.done()?.name;
  }
}

class ManualClock implements PoolClock {
  private t = 0;
  private timers: { at: number; fn: () => void }[] = [];
  now(): number {
    return this.t;
  }
  after(ms: number, fn: () => void): () => void {
    const timer = { at: this.t + ms, fn };
    this.timers.push(timer);
    return () => {
      this.timers = this.timers.filter((x) => x !== timer);
    };
  }
  /** Moves time on, firing due timers in order. */
  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= end).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

function harness(o: { cap?: number; minPollers?: number; graceMs?: number } = {}) {
  const threads: FakeThread[] = [];
  const clock = new ManualClock();
  const pool = new ThreadPool<FakeThread, FakeJob>({
    admission: o.cap === undefined ? UNCAPPED_ADMISSION : cappedAdmission(o.cap),
    minPollers: o.minPollers ?? 1,
    idleGraceMs: o.graceMs ?? 0,
    clock,
    start: (events) => {
      const t = new FakeThread(threads.length + 1, events);
      threads.push(t);
      return t;
    },
  });
  /** Brings every starting thread online, in start order, until none is left starting. */
  const settle = () => {
    for (let i = 0; i < threads.length; i++) if (!online.has(threads[i]!)) bringOnline(threads[i]!);
  };
  const online = new Set<FakeThread>();
  const bringOnline = (t: FakeThread) => {
    online.add(t);
    t.events.online();
  };
  /** Reports the end of every thread the pool asked to exit. */
  const exitAsked = () => {
    for (const t of threads)
      if (t.exitAsked && !ended.has(t)) {
        ended.add(t);
        t.events.exited(0);
      }
  };
  const ended = new Set<FakeThread>();
  const exiting = () => threads.filter((t) => t.exitAsked).map((t) => t.id);
  return { pool, threads, clock, settle, bringOnline, exitAsked, exiting };
}

describe('thread pool: starting threads (ThreadManager::MainWorkLoop)', () => {
  it('a request finding no poller starts one thread, which counts as a poller before it is up', () => {
    const h = harness();
    h.pool.submit(job('a'));
    h.pool.submit(job('b'));
    assert.equal(h.threads.length, 1, 'the starting thread is a poller: the second request starts none');
    assert.deepEqual(h.pool.stats(), { current: 1, idle: 0, peak: 1, created: 1, exited: 0, cap: null, queued: 2 });
    h.bringOnline(h.threads[0]!);
    assert.deepEqual(
      h.threads[0]!.jobs.map((j) => j.name),
      ['a'],
    );
    assert.equal(h.threads.length, 2, 'the pickup left no poller: it started one');
    assert.equal(h.pool.queued, 1);
  });

  it('a spike of N slow requests ends with N working threads and one poller (leak 2)', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.pool.submit(job(`r${i}`));
    h.settle();
    assert.equal(h.threads.length, 11);
    assert.deepEqual(
      h.threads.map((t) => t.jobs.length),
      [...Array(10).fill(1), 0],
    );
    const st = h.pool.stats();
    assert.equal(st.current, 11);
    assert.equal(st.idle, 1);
    assert.equal(st.queued, 0);
    assert.deepEqual(
      h.pool.list().map((t) => t.busy),
      [...Array(10).fill(true), false],
    );
  });

  it('prestart starts the minimum pollers and no more; a closed pool starts none', () => {
    const h = harness({ minPollers: 3 });
    h.pool.prestart();
    h.pool.prestart();
    assert.equal(h.threads.length, 3);
    h.settle();
    assert.equal(h.pool.stats().idle, 3);
    h.pool.submit(job('a'));
    assert.equal(h.threads.length, 4, 'a pickup leaving 2 < 3 pollers starts one');
    const closed = harness();
    void closed.pool.close();
    closed.pool.prestart();
    assert.equal(closed.threads.length, 0);
  });
});

describe('thread pool: taking work', () => {
  it('idle pollers are a stack: the most recently idle thread takes the next request', () => {
    const h = harness({ graceMs: 60_000 });
    for (let i = 0; i < 3; i++) h.pool.submit(job(`r${i}`));
    h.settle(); // threads 1–3 working, 4 polling
    assert.equal(h.threads[2]!.finish(), 'r2');
    assert.equal(h.threads[0]!.finish(), 'r0');
    assert.equal(h.threads[1]!.finish(), 'r1');
    h.pool.submit(job('next'));
    assert.equal(h.threads.length, 4, 'three pollers left after the pickup: none started');
    assert.deepEqual(
      h.threads.map((t) => t.jobs.at(-1)?.name),
      ['r0', 'next', 'r2', undefined],
      'thread 2 went idle last and takes the work',
    );
    h.pool.submit(job('after'));
    assert.equal(h.threads[0]!.jobs.at(-1)?.name, 'after', 'then thread 1, idle before it');
  });

  it('done() hands back the request the thread was running, once', () => {
    const h = harness();
    h.pool.submit(job('a'));
    h.settle();
    assert.equal(h.threads[0]!.finish(), 'a');
    assert.equal(h.threads[0]!.finish(), undefined);
  });
});

describe('thread pool: admission', () => {
  it('capped: a pickup that leaves no poller and may not start one is refused at once; the thread polls again', () => {
    const h = harness({ cap: 2 });
    h.pool.submit(job('a'));
    h.bringOnline(h.threads[0]!); // takes a, starts thread 2 (quota 2 of 2)
    const b = job('b');
    h.pool.submit(b);
    assert.equal(b.error, undefined, 'queued for thread 2, which is starting');
    h.bringOnline(h.threads[1]!);
    assert.equal(told(b)?.code, 'LS_ERR_THREADS_EXHAUSTED', `b was not refused: ${told(b)?.message}`);
    assert.match(told(b)!.message, /--grpc_max_threads 2/);
    assert.equal(h.threads.length, 2, 'no thread past the cap');
    assert.equal(h.threads[1]!.jobs.length, 0);
    assert.equal(h.pool.stats().idle, 1, 'thread 2 polls again');
    // With a poller left after the pickup, the request runs.
    assert.equal(h.threads[0]!.finish(), 'a');
    const c = job('c');
    h.pool.submit(c);
    assert.equal(c.error, undefined);
    assert.equal(h.threads[0]!.jobs.at(-1)?.name, 'c');
  });

  it('capped: below the minimum pollers but not at zero, a pickup that may not start a thread still runs', () => {
    const h = harness({ cap: 3, minPollers: 2 });
    h.pool.prestart();
    h.settle(); // threads 1 and 2 polling; quota 2 of 3
    const [a, b] = [job('a'), job('b')];
    h.pool.submit(a); // leaves 1 poller < 2: starts thread 3 (quota full)
    h.pool.submit(b); // leaves thread 3 (starting) as the only poller; none may start
    assert.equal(h.threads.length, 3);
    assert.equal(told(a), undefined);
    assert.equal(told(b), undefined, 'a poller is left, so upstream runs the request');
    assert.deepEqual(
      h.threads.map((t) => t.jobs.map((j) => j.name).join()),
      ['b', 'a', ''],
      'thread 2 came up last, so it took a (the stack)',
    );
  });

  it('cap 1: a pickup can never leave a poller, so every request is refused (upstream needs max threads ≥ 2)', () => {
    const h = harness({ cap: 1 });
    const [x, y] = [job('x'), job('y')];
    h.pool.submit(x);
    h.bringOnline(h.threads[0]!);
    h.threads[0]!.events.online(); // a second report changes nothing
    h.pool.submit(y);
    assert.equal(x.error?.code, 'LS_ERR_THREADS_EXHAUSTED');
    assert.equal(y.error?.code, 'LS_ERR_THREADS_EXHAUSTED');
    assert.equal(h.threads[0]!.jobs.length, 0);
    assert.equal(h.pool.stats().idle, 1);
  });

  it('uncapped never refuses: every pickup that leaves no poller starts one', () => {
    const h = harness();
    const jobs = Array.from({ length: 50 }, (_, i) => job(`r${i}`));
    for (const j of jobs) h.pool.submit(j);
    h.settle();
    assert.ok(jobs.every((j) => j.error === undefined));
    assert.equal(h.pool.stats().peak, 51);
  });
});

describe('thread pool: surplus pollers leave', () => {
  it('grace 0 (upstream): a thread finding the pollers at the maximum (min + 1) exits right after its request', () => {
    const h = harness();
    for (let i = 0; i < 4; i++) h.pool.submit(job(`r${i}`));
    h.settle(); // 1–4 working, 5 polling
    for (const t of h.threads.slice(0, 4)) t.finish();
    assert.deepEqual(h.exiting(), [2, 3, 4], 'threads 1 and 5 make the two pollers; 2–4 leave');
    assert.equal(h.pool.stats().current, 5, 'counted until they are gone');
    h.exitAsked();
    assert.deepEqual(h.pool.stats(), { current: 2, idle: 2, peak: 5, created: 5, exited: 3, cap: null, queued: 0 });
  });

  it('with a grace: surplus leaves no earlier than the grace, the longest idle first, down to the maximum', () => {
    const h = harness({ graceMs: 1000 });
    for (let i = 0; i < 4; i++) h.pool.submit(job(`r${i}`));
    h.settle(); // at 0 ms: 1–4 working, 5 polling
    for (const t of h.threads.slice(0, 4)) {
      h.clock.advance(100);
      t.finish(); // thread 1 idle at 100 ms, 2 at 200, 3 at 300, 4 at 400
    }
    h.clock.advance(599); // 999 ms
    assert.deepEqual(h.exiting(), [], 'nobody leaves before the grace');
    h.clock.advance(1); // 1000 ms: thread 5 has been idle for the grace
    assert.deepEqual(h.exiting(), [5]);
    h.clock.advance(100);
    assert.deepEqual(h.exiting(), [1, 5]);
    h.clock.advance(100);
    assert.deepEqual(h.exiting(), [1, 2, 5]);
    h.clock.advance(10_000);
    assert.deepEqual(h.exiting(), [1, 2, 5], 'threads 3 and 4 are the maximum pollers: they stay');
  });

  it('with a grace: a load that keeps needing the surplus keeps it, and it leaves one grace after the load stops', () => {
    const h = harness({ graceMs: 1000 });
    for (let i = 0; i < 4; i++) h.pool.submit(job(`first${i}`));
    h.settle();
    for (const t of h.threads.slice(0, 4)) t.finish();
    // A burst of four every 500 ms takes the pool down to one poller each time.
    for (let k = 0; k < 10; k++) {
      h.clock.advance(500);
      const before = h.threads.map((t) => t.jobs.length);
      for (let i = 0; i < 4; i++) h.pool.submit(job(`b${k}.${i}`));
      const ran = h.threads.filter((t, i) => t.jobs.length > before[i]!);
      assert.equal(ran.length, 4);
      for (const t of ran) t.finish();
    }
    assert.equal(h.threads.length, 5, 'no thread started after the first burst');
    assert.deepEqual(h.exiting(), [], 'no thread left while the bursts needed it');
    const stopped = h.clock.now();
    h.clock.advance(999);
    assert.deepEqual(h.exiting(), []);
    h.clock.advance(1);
    assert.equal(h.exiting().length, 3, `at ${h.clock.now() - stopped} ms after the last burst`);
  });
});

describe('thread pool: threads that fail', () => {
  it('a thread dying mid-request fails that request naming the exit, gives its quota back, and queued work is served', () => {
    const h = harness({ cap: 2 });
    const a = job('a');
    h.pool.submit(a);
    h.bringOnline(h.threads[0]!); // runs a; thread 2 starting (quota full)
    const b = job('b');
    h.pool.submit(b);
    h.threads[0]!.events.exited(134, 'native abort');
    assert.ok(a.error instanceof LsError && a.error.code === 'LS_ERR_INFERENCE');
    assert.match(a.error.message, /handler thread 1 died while running the request \(exit code 134: native abort\)/);
    h.bringOnline(h.threads[1]!); // takes b; its quota came back, so it may start thread 3
    assert.equal(b.error, undefined);
    assert.equal(h.threads[1]!.jobs[0]?.name, 'b');
    assert.equal(h.threads.length, 3);
    assert.equal(h.pool.stats().exited, 1);
  });

  it('a thread that dies before it is up gives back its poller place: the waiting request gets a new thread', () => {
    const h = harness();
    const a = job('a');
    h.pool.submit(a);
    h.threads[0]!.events.exited(1, 'cannot boot');
    assert.equal(h.threads.length, 2, 'a replacement started for the queued request');
    h.bringOnline(h.threads[1]!);
    assert.equal(h.threads[1]!.jobs[0], a);
  });

  it('a broken channel fails the running request naming the thread and retires the thread', () => {
    const h = harness();
    const a = job('a');
    h.pool.submit(a);
    h.bringOnline(h.threads[0]!);
    h.threads[0]!.events.broken('a reply could not be read: bad clone');
    assert.ok(a.error instanceof LsError && a.error.code === 'LS_ERR_INFERENCE');
    assert.equal(a.error.message, 'handler thread 1: a reply could not be read: bad clone');
    assert.deepEqual(h.exiting(), [1]);
    assert.deepEqual(
      h.pool.list().map((t) => t.id),
      [2],
    );
    assert.equal(h.pool.find(1), undefined, 'a leaving thread is not offered for heap snapshots');
  });
});

describe('thread pool: close', () => {
  it('refuses queued requests, fails running ones once their thread ends, and resolves when every thread is gone', async () => {
    const h = harness();
    const jobs = ['a', 'b', 'c'].map(job);
    for (const j of jobs) h.pool.submit(j);
    h.bringOnline(h.threads[0]!); // runs a; thread 2 starting; b, c queued
    let done = false;
    const closing = h.pool.close().then(() => (done = true));
    assert.equal(h.pool.closed, true);
    for (const j of jobs.slice(1)) {
      assert.ok(j.error instanceof LsError && j.error.code === 'LS_ERR_SHUTTING_DOWN');
      assert.match(j.error.message, /before the request ran/);
    }
    assert.deepEqual(h.exiting(), [1, 2]);
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'close waits for the threads to end');
    h.exitAsked();
    await closing;
    assert.match(jobs[0]!.error!.message, /shut down while the request was running/);
    assert.equal(h.pool.stats().current, 0);
  });
});
