/**
 * The pool's ThreadManager rules on fake threads and a manual clock: which request starts a
 * thread, which thread takes work, which one leaves and when, and what a request is told when
 * admission refuses or its thread dies. (handler-threads.test.ts runs the same rules on real
 * worker_threads under load.)
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LsError } from '../../common/errors.js';
import { cappedAdmission, type ThreadAdmission, UNCAPPED_ADMISSION } from '../../server/thread-admission.js';
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

/** The names of the requests a thread was sent. */
const sent = (t: FakeThread | undefined): string[] => t!.jobs.map((j) => j.name);

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
    /** Whether it boots at the lowest priority (until foreground()). */
    public background = false,
  ) {}
  foreground(): void {
    this.background = false;
  }
  run(j: FakeJob): void {
    this.jobs.push(j);
    if (this.fast) this.unread = true;
  }
  exit(): void {
    this.exitAsked = true;
  }
  /** Its current request's name, as the pool hands it back. */
  finish(): string | undefined {
    return this.events.done()?.name;
  }
  /** Whether it has answered and the main thread has not read the answer yet (see answer()). */
  private unread = false;
  /** Answers each request as soon as it has it (a request of a fraction of a millisecond). */
  fast = false;
  /** Answers its request without the main thread reading the answer (its event loop is busy). */
  answer(): void {
    this.unread = true;
  }
  collect(): boolean {
    if (!this.unread) return false;
    this.unread = false;
    this.events.done();
    return true;
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
  /** Moves time on with the main thread blocked (a heap snapshot): the timers due meanwhile fire late, at the end. */
  stall(ms: number): void {
    this.t += ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      next.fn();
    }
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

function harness(
  o: {
    cap?: number;
    minPollers?: number;
    graceMs?: number;
    maxBooting?: number;
    backgroundBoots?: boolean;
    startFails?: (n: number) => boolean;
    /** Whether the nth thread asked to boot in the background cannot be lowered. */
    lowerFails?: (n: number) => boolean;
  } = {},
) {
  const threads: FakeThread[] = [];
  let attempts = 0;
  const clock = new ManualClock();
  const pool = new ThreadPool<FakeThread, FakeJob>({
    admission: o.cap === undefined ? UNCAPPED_ADMISSION : cappedAdmission(o.cap),
    minPollers: o.minPollers ?? 1,
    idleGraceMs: o.graceMs ?? 0,
    ...(o.maxBooting === undefined ? {} : { maxBooting: o.maxBooting }),
    ...(o.backgroundBoots === undefined ? {} : { backgroundBoots: o.backgroundBoots }),
    clock,
    start: (events, background) => {
      attempts++;
      if (o.startFails?.(attempts)) throw new Error('no memory for a thread');
      const t = new FakeThread(threads.length + 1, events, background && !o.lowerFails?.(attempts));
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
  /** Which threads hold a request (sent to them, or waiting for their boot), by start order. */
  const busy = () => pool.list().map((t) => t.busy);
  return { pool, threads, clock, settle, bringOnline, online, exitAsked, exiting, busy };
}

/** After a spike of `jobs` on fresh threads: each request ran on the thread that picked it up, every thread is up, none failed. */
function spikeServed(h: ReturnType<typeof harness>, jobs: FakeJob[]): void {
  assert.deepEqual(
    h.threads.map((t) => sent(t).join()),
    [...jobs.map((j) => j.name), ''],
    'each request on the thread that picked it up',
  );
  const st = h.pool.stats();
  assert.equal(st.starting, 0);
  assert.equal(st.peak, jobs.length + 1);
  assert.ok(jobs.every((j) => told(j) === undefined));
}

describe('thread pool: starting threads (ThreadManager::MainWorkLoop)', () => {
  it('a request finding no poller starts one thread, which polls at once: it takes the request before it is up', () => {
    const h = harness();
    h.pool.submit(job('a'));
    assert.deepEqual(h.busy(), [true, false], 'thread 1 took a while booting; the pickup left no poller: thread 2');
    assert.deepEqual(h.pool.stats(), {
      current: 2,
      idle: 1,
      peak: 2,
      created: 2,
      exited: 0,
      cap: null,
      queued: 0,
      starting: 2,
    });
    h.pool.submit(job('b'));
    assert.deepEqual(h.busy(), [true, true, false], 'thread 2, still booting, is a poller: it takes b at once');
    assert.deepEqual(sent(h.threads[0]), [], 'a waits for thread 1 to be up');
    h.bringOnline(h.threads[0]!);
    assert.deepEqual(sent(h.threads[0]), ['a'], 'sent once thread 1 is up');
    assert.equal(h.threads.length, 3, 'coming up starts nothing');
    assert.equal(h.threads[0]!.finish(), 'a');
    assert.deepEqual(sent(h.threads[0]), ['a', 'b'], 'thread 1, up and free, takes over b from booting thread 2');
    assert.deepEqual(h.busy(), [true, false, false], 'thread 2 polls instead');
    assert.equal(h.pool.stats().idle, 2);
    h.bringOnline(h.threads[1]!);
    assert.deepEqual(sent(h.threads[1]), [], 'b is not sent twice');
    assert.equal(h.threads[0]!.finish(), 'b');
  });

  it('a poller that is up takes work before one still booting; booting pollers take it oldest first', () => {
    const h = harness({ minPollers: 2, graceMs: 60_000 });
    h.pool.prestart(); // threads 1 and 2 booting
    h.bringOnline(h.threads[1]!);
    h.pool.submit(job('a'));
    assert.deepEqual(sent(h.threads[1]), ['a'], 'thread 2 is up: it takes a');
    assert.equal(h.threads.length, 3, 'one poller left < 2: thread 3 starts');
    h.pool.submit(job('b'));
    assert.deepEqual(
      h.busy(),
      [true, true, false, false],
      'no thread up is free: thread 1, booting longest, takes b; thread 4 starts',
    );
    h.settle();
    assert.deepEqual(sent(h.threads[0]), ['b']);
    assert.equal(h.pool.stats().idle, 2);
  });

  it('a spike of N slow requests ends with N working threads and one poller at once, before any thread is up (leak 2)', () => {
    const h = harness();
    for (let i = 0; i < 10; i++) h.pool.submit(job(`r${i}`));
    assert.equal(h.threads.length, 11, 'the spawn chain does not wait for any boot');
    assert.deepEqual(h.busy(), [...Array(10).fill(true), false]);
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

  it('whenUp resolves once no thread is booting (a server serves once its prestarted pollers are up)', async () => {
    const h = harness({ minPollers: 2 });
    let up = false;
    await h.pool.whenUp(); // nothing booting yet
    h.pool.prestart();
    const waiting = h.pool.whenUp().then(() => (up = true));
    h.bringOnline(h.threads[0]!);
    await new Promise((r) => setImmediate(r));
    assert.equal(up, false, 'thread 2 still boots');
    h.threads[1]!.events.exited(1, 'cannot boot');
    await waiting;
    assert.equal(up, true, 'a thread that dies booting is not waited for');
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
    h.pool.submit(job('a')); // thread 1 takes a while booting, starts thread 2 (quota 2 of 2)
    const b = job('b');
    h.pool.submit(b); // thread 2 still boots and could start no thread: b waits for a thread that is up
    assert.equal(told(b), undefined, 'not refused while a poller is still booting');
    assert.equal(h.pool.queued, 1);
    h.settle(); // thread 1 runs a; thread 2 comes up and takes b, which leaves no poller, and none may start
    assert.equal(told(b)?.code, 'LS_ERR_THREADS_EXHAUSTED', `b was not refused: ${told(b)?.message}`);
    assert.match(told(b)!.message, /--grpc_max_threads 2/);
    assert.equal(h.threads.length, 2, 'no thread past the cap');
    assert.equal(h.threads[1]!.jobs.length, 0);
    assert.equal(h.pool.stats().idle, 1, 'thread 2 polls again');
    const b2 = job('b2');
    h.pool.submit(b2);
    assert.equal(told(b2)?.code, 'LS_ERR_THREADS_EXHAUSTED', 'the same once the threads are up');
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
    assert.deepEqual(h.pool.stats(), {
      current: 2,
      idle: 2,
      peak: 5,
      created: 5,
      exited: 3,
      cap: null,
      queued: 0,
      starting: 0,
    });
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
    h.pool.submit(a); // thread 1 takes a; thread 2 starts (quota full)
    h.bringOnline(h.threads[0]!);
    h.threads[0]!.events.exited(134, 'native abort');
    assert.ok(a.error instanceof LsError && a.error.code === 'LS_ERR_INFERENCE');
    assert.match(a.error.message, /handler thread 1 died while running the request \(exit code 134: native abort\)/);
    const b = job('b');
    h.pool.submit(b); // thread 2 takes b; thread 1's quota came back, so it may start thread 3
    h.bringOnline(h.threads[1]!);
    assert.equal(b.error, undefined);
    assert.equal(h.threads[1]!.jobs[0]?.name, 'b');
    assert.equal(h.threads.length, 3);
    assert.equal(h.pool.stats().exited, 1);
  });

  it('a thread that dies before it is up fails the request waiting for it, naming that; an idle one gives back its poller place', () => {
    const h = harness();
    const a = job('a');
    h.pool.submit(a); // thread 1 takes a while booting; thread 2 polls
    h.threads[0]!.events.exited(1, 'cannot boot');
    assert.ok(a.error instanceof LsError && a.error.code === 'LS_ERR_INFERENCE');
    assert.match(
      a.error.message,
      /handler thread 1 died before it was up, with the request waiting for it \(exit code 1: cannot boot\)/,
    );
    h.threads[1]!.events.exited(1, 'cannot boot');
    assert.deepEqual(h.pool.stats(), {
      current: 0,
      idle: 0,
      peak: 2,
      created: 2,
      exited: 2,
      cap: null,
      queued: 0,
      starting: 0,
    });
    const b = job('b');
    h.pool.submit(b);
    h.bringOnline(h.threads[2]!);
    assert.equal(h.threads[2]!.jobs[0], b, 'no poller left: the next request starts a thread');
    assert.equal(h.threads.length, 4);
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
  it('fails running requests (their thread up or still booting) once their thread ends, and resolves when every thread is gone', async () => {
    const h = harness({ cap: 3 });
    const jobs = ['a', 'b'].map(job);
    for (const j of jobs) h.pool.submit(j); // threads 1 and 2 take a and b; thread 3 polls (quota full)
    h.bringOnline(h.threads[0]!);
    h.threads[2]!.events.exited(1, 'gone'); // the poller dies: none left, and its quota is...
    const c = job('c');
    h.pool.submit(c); // ...given back, so c starts thread 4, which may start none: c waits for it
    assert.equal(told(c), undefined);
    assert.equal(h.pool.queued, 1);
    let done = false;
    const closing = h.pool.close().then(() => (done = true));
    assert.equal(h.pool.closed, true);
    assert.deepEqual(h.exiting(), [1, 2, 4], 'thread 3 ended on its own: it is not asked to');
    await new Promise((r) => setImmediate(r));
    assert.equal(done, false, 'close waits for the threads to end');
    h.exitAsked();
    await closing;
    for (const j of jobs) {
      assert.ok(j.error instanceof LsError && j.error.code === 'LS_ERR_SHUTTING_DOWN', j.name);
      assert.match(j.error.message, /shut down while the request was running/);
    }
    assert.equal(told(c)?.code, 'LS_ERR_SHUTTING_DOWN');
    assert.match(told(c)!.message, /shut down before the request ran/);
    assert.equal(h.pool.stats().current, 0);
  });
});

describe('thread pool: bounded boots', () => {
  it('a spike starts one thread per request at once, but only maxBooting are created at a time; each coming up creates the next', () => {
    const h = harness({ maxBooting: 2, graceMs: 60_000 });
    const jobs = Array.from({ length: 10 }, (_, i) => job(`r${i}`));
    for (const j of jobs) h.pool.submit(j);
    assert.equal(h.threads.length, 2, 'two boots at once; the rest wait their turn');
    const st = h.pool.stats();
    assert.equal(st.starting, 11, 'the chain started a thread per request plus the last poller');
    assert.equal(st.current, 2, 'only created threads are current');
    assert.equal(st.queued, 0, 'every request was picked up (by a thread still to boot)');
    h.bringOnline(h.threads[0]!);
    assert.deepEqual(sent(h.threads[0]), ['r0']);
    assert.equal(h.threads.length, 3, 'thread 1 up: thread 3 is created');
    h.bringOnline(h.threads[1]!);
    assert.equal(h.threads.length, 4);
    h.settle();
    assert.equal(h.threads.length, 11, 'all of them, one slot at a time');
    assert.equal(h.pool.stats().current, 11);
    spikeServed(h, jobs);
  });

  it('a thread that is up and frees takes over the request waiting longest; the thread that would have run it still comes up, and nothing is reaped until every started thread is up', () => {
    const h = harness({ maxBooting: 1, graceMs: 1000 });
    for (let i = 0; i < 4; i++) h.pool.submit(job(`r${i}`));
    h.bringOnline(h.threads[0]!); // r0 runs on thread 1; thread 2 is created
    assert.equal(h.threads[0]!.finish(), 'r0');
    assert.deepEqual(sent(h.threads[0]), ['r0', 'r1'], 'thread 1 takes over r1 from thread 2, still booting');
    assert.equal(h.threads.length, 2, 'thread 2 boots on all the same');
    assert.equal(h.threads[0]!.finish(), 'r1');
    assert.deepEqual(sent(h.threads[0]), ['r0', 'r1', 'r2'], 'then r2 from thread 3, not created yet');
    assert.equal(h.threads[0]!.finish(), 'r2');
    assert.equal(h.threads[0]!.finish(), 'r3');
    assert.equal(h.pool.stats().starting, 4, 'the threads the spike started are still to come up');
    h.clock.advance(5000);
    assert.deepEqual(h.exiting(), [], 'no surplus is reaped while the threads the spike started come up');
    h.settle();
    assert.equal(h.threads.length, 5, 'every thread the spike started was created');
    assert.ok(h.threads.slice(1).every((t) => t.jobs.length === 0));
    assert.equal(h.pool.stats().peak, 5);
    h.clock.advance(999);
    assert.deepEqual(h.exiting(), [], 'the grace counts from the last thread coming up');
    h.clock.advance(1);
    assert.equal(h.exiting().length, 3, 'then the surplus leaves, down to the maximum pollers');
  });

  it('a thread that cannot be created fails the request it holds naming why, gives its place back, and the next request starts another', () => {
    const h = harness({ maxBooting: 1, startFails: (n) => n === 2 });
    const [a, b] = [job('a'), job('b')];
    h.pool.submit(a); // thread 1 created; its replacement poller waits for the slot
    h.pool.submit(b); // the waiting poller takes b
    h.bringOnline(h.threads[0]!); // the slot frees: creating b's thread fails
    assert.ok(b.error instanceof LsError && b.error.code === 'LS_ERR_INFERENCE', `b: ${told(b)?.message}`);
    assert.match(b.error.message, /could not be started: no memory for a thread/);
    assert.equal(told(a), undefined);
    assert.deepEqual(sent(h.threads[0]), ['a']);
    const st = h.pool.stats();
    assert.equal(st.created, h.threads.length);
    assert.ok(st.idle >= 1, `a poller is left for the next request: ${JSON.stringify(st)}`);
    const c = job('c');
    h.pool.submit(c);
    h.settle();
    assert.equal(told(c), undefined);
    assert.ok(
      h.threads.some((t) => sent(t).includes('c')),
      'c ran',
    );
  });

  it('a factory that keeps failing fails the requests left without a poller, without retrying in a loop', () => {
    const h = harness({ startFails: () => true });
    const [a, b] = [job('a'), job('b')];
    h.pool.submit(a);
    assert.equal(told(a)?.code, 'LS_ERR_INFERENCE');
    assert.match(told(a)!.message, /could not be started: no memory for a thread/);
    h.pool.submit(b);
    assert.equal(told(b)?.code, 'LS_ERR_INFERENCE');
    assert.deepEqual(h.pool.stats(), {
      current: 0,
      idle: 0,
      peak: 0,
      created: 0,
      exited: 0,
      cap: null,
      queued: 0,
      starting: 0,
    });
  });

  it('close answers the requests held by threads never created LS_ERR_SHUTTING_DOWN, creates no more, and resolves', async () => {
    const h = harness({ maxBooting: 1 });
    const jobs = ['a', 'b', 'c'].map(job);
    for (const j of jobs) h.pool.submit(j);
    assert.equal(h.threads.length, 1);
    const closing = h.pool.close();
    for (const j of jobs.slice(1)) {
      assert.equal(told(j)?.code, 'LS_ERR_SHUTTING_DOWN', j.name);
      assert.match(told(j)!.message, /before the request ran/);
    }
    h.bringOnline(h.threads[0]!);
    assert.equal(h.threads.length, 1, 'nothing is created after close');
    h.exitAsked();
    await closing;
    assert.equal(told(jobs[0]!)?.code, 'LS_ERR_SHUTTING_DOWN');
    assert.deepEqual(h.pool.stats().starting, 0);
  });

  it('whenUp waits for the threads waiting to be created, too', async () => {
    const h = harness({ minPollers: 3, maxBooting: 1 });
    let up = false;
    h.pool.prestart();
    const waiting = h.pool.whenUp().then(() => (up = true));
    h.bringOnline(h.threads[0]!);
    h.bringOnline(h.threads[1]!);
    await new Promise((r) => setImmediate(r));
    assert.equal(up, false, 'thread 3 is still to come up');
    h.bringOnline(h.threads[2]!);
    await waiting;
    assert.equal(h.pool.stats().current, 3);
  });
});

describe('thread pool: steady load under the cap (the seed scenario against a patched server)', () => {
  /**
   * `bursts` bursts of `size` requests `everyMs` apart, as a main thread reads them from its
   * socket in one turn. A request takes a fraction of a millisecond: a thread that is up answers
   * as soon as it has one, and the main thread reads the answers after the burst. Threads are up
   * `bootMs` after they are created. Requests past admission's queue bound are refused as
   * HandlerThreadRunner.run does. Returns the refusals and what the pool started and ended
   * after its first `settleMs`.
   */
  function steadyLoad(
    h: ReturnType<typeof harness>,
    o: { bursts: number; size: number; everyMs: number; bootMs: number; settleMs: number; admission: ThreadAdmission },
  ) {
    const created = new Map<FakeThread, number>();
    const refused: string[] = [];
    let after = { created: 0, exited: 0 };
    for (let b = 0; b < o.bursts; b++) {
      for (const t of h.threads) {
        t.fast = true;
        if (!created.has(t)) created.set(t, h.clock.now());
        if (!h.online.has(t) && h.clock.now() - created.get(t)! >= o.bootMs) h.bringOnline(t);
      }
      if (h.clock.now() < o.settleMs) after = { created: h.pool.stats().created, exited: h.pool.stats().exited };
      for (let i = 0; i < o.size; i++) {
        const j = job(`b${b}.${i}`);
        if (o.admission.queues(h.pool.queued)) h.pool.submit(j);
        else j.reject(o.admission.refusal());
        if (j.error) refused.push(`${j.name}: ${j.error.message}`);
      }
      h.clock.advance(o.everyMs);
      // The main thread reads the answers (a thread taking over a request waiting for a boot answers that too).
      for (let more = true; more; ) {
        more = false;
        for (const t of h.threads) if (t.collect()) more = true;
      }
      h.exitAsked();
    }
    const st = h.pool.stats();
    return { refused, created: st.created - after.created, exited: st.exited - after.exited, st };
  }

  it('threads still booting do not make a capped pool refuse what a thread that is up serves in time, and steady load starts and ends no thread', () => {
    const admission = cappedAdmission(8);
    const h = harness({ cap: 8, graceMs: 1000 });
    h.pool.prestart();
    h.settle();
    // 8 at once every 30 ms (~270 req/s), boots of 150 ms, for 6 s: one thread at a time is enough.
    const r = steadyLoad(h, { bursts: 200, size: 8, everyMs: 30, bootMs: 150, settleMs: 1000, admission });
    assert.deepEqual(r.refused.slice(0, 3), [], `${r.refused.length} of 1600 refused under the cap`);
    assert.ok(r.st.peak <= 3, `threads started for requests a free thread could take: ${JSON.stringify(r.st)}`);
    assert.equal(r.created + r.exited, 0, `threads churned under steady load: ${JSON.stringify(r)}`);
  });

  it('a thread that has answered is a poller again before the main thread reads its answer', () => {
    const h = harness({ cap: 4, graceMs: 60_000 });
    const first = ['a', 'b', 'c'].map(job);
    for (const j of first) h.pool.submit(j);
    h.settle(); // threads 1-3 run a, b, c; thread 4 polls (quota full)
    for (const t of h.threads.slice(0, 3)) t.answer(); // answered; the main thread is still busy reading requests
    const d = job('d');
    h.pool.submit(d); // the last poller takes d: upstream's answered threads poll, so d runs
    assert.equal(told(d), undefined, `d was refused: ${told(d)?.message}`);
    assert.equal(h.pool.stats().created, 4, 'no thread started past the answered ones');
    assert.deepEqual(
      h.threads.map((t) => sent(t).join()),
      ['a,d', 'b', 'c', ''],
      'the first thread found free takes d; thread 4 stays a poller',
    );
  });

  it('a reaper firing late after the main thread was blocked (a heap snapshot) retires nothing: the load gets a new grace', () => {
    const h = harness({ graceMs: 1000 });
    for (let i = 0; i < 6; i++) h.pool.submit(job(`r${i}`));
    h.settle();
    for (const t of h.threads.slice(0, 6)) t.finish();
    assert.equal(h.pool.stats().idle, 7);
    h.clock.advance(500);
    h.clock.stall(2500); // the reaper was due at 1000 and runs at 3000, before the requests that queued meanwhile
    assert.deepEqual(h.exiting(), [], 'threads retired by a timer that ran before the load could be read');
    for (let i = 0; i < 5; i++) h.pool.submit(job(`after${i}`));
    assert.equal(h.pool.stats().created, 7, 'the load after the stall is served by the threads it had');
    for (const { id } of h.pool.list().filter((t) => t.busy)) h.threads[id - 1]!.finish();
    h.clock.advance(999);
    assert.deepEqual(h.exiting(), [], 'the grace counts from the end of the stall');
    h.clock.advance(1);
    assert.equal(h.exiting().length, 5, 'then the surplus leaves, down to the maximum pollers');
  });
});

describe('thread pool: background boots', () => {
  /** Which threads boot in the background now, by start order. */
  const lowered = (h: ReturnType<typeof harness>) => h.threads.filter((t) => t.background).map((t) => t.id);

  it('a spike creates every thread it starts at once: maxBooting boot at normal priority, the rest in the background, brought forward in start order as slots free', () => {
    const h = harness({ maxBooting: 2, backgroundBoots: true, graceMs: 60_000 });
    const jobs = Array.from({ length: 10 }, (_, i) => job(`r${i}`));
    for (const j of jobs) h.pool.submit(j);
    assert.equal(h.threads.length, 11, 'every thread the chain started exists at once');
    assert.deepEqual(lowered(h), [3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const st = h.pool.stats();
    assert.equal(st.current, 11);
    assert.equal(st.starting, 11);
    h.bringOnline(h.threads[0]!);
    assert.deepEqual(lowered(h), [4, 5, 6, 7, 8, 9, 10, 11], 'thread 1 up: thread 3 takes its slot');
    h.bringOnline(h.threads[6]!);
    assert.deepEqual(lowered(h), [4, 5, 6, 8, 9, 10, 11], 'a thread up before its turn serves at normal priority');
    assert.equal(h.pool.stats().starting, 9, 'and takes no slot: threads 2 and 3 still boot in them');
    h.settle();
    assert.deepEqual(lowered(h), []);
    spikeServed(h, jobs);
  });

  it('a thread that cannot be lowered boots at normal priority past the bound, and no more are created until the boots are back at the bound', () => {
    const h = harness({ maxBooting: 2, backgroundBoots: true, lowerFails: (n) => n === 3 });
    for (let i = 0; i < 5; i++) h.pool.submit(job(`r${i}`));
    assert.equal(h.threads.length, 3, 'creation stops at the thread that could not be lowered');
    assert.deepEqual(lowered(h), []);
    assert.equal(h.pool.stats().starting, 6);
    h.bringOnline(h.threads[0]!);
    assert.equal(h.threads.length, 6, 'two boot at normal priority again: the rest are created in the background');
    assert.deepEqual(lowered(h), [4, 5, 6]);
  });

  it('a thread booting in the background that dies fails the request waiting for it and gives its place back', () => {
    const h = harness({ maxBooting: 1, backgroundBoots: true });
    const [a, b] = [job('a'), job('b')];
    h.pool.submit(a);
    h.pool.submit(b);
    assert.deepEqual(lowered(h), [2, 3]);
    h.threads[1]!.events.exited(1, 'out of memory');
    assert.equal(told(b)?.code, 'LS_ERR_INFERENCE');
    assert.match(told(b)!.message, /before it was up/);
    assert.equal(h.pool.stats().starting, 2, 'threads 1 and 3 still to come up');
    h.settle();
    assert.deepEqual(lowered(h), [2], 'the others were brought forward, the dead one never');
    assert.equal(h.pool.stats().starting, 0);
  });
});
