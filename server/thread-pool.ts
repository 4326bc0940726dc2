/**
 * The handler-thread pool: gRPC C++'s sync-server thread manager rules
 * (src/cpp/thread_manager/thread_manager.cc, ThreadManager::MainWorkLoop), over threads it
 * starts through a factory (worker_threads in the server, fakes in the tests):
 * - requests wait in a completion queue until a polling thread picks one up;
 * - a thread that picks up work leaves the pollers; if pollers fall below the minimum it
 *   starts one new thread, if admission allows (the new thread counts as a poller at once,
 *   as upstream's `num_pollers_++` before the thread exists) — so threads grow one per
 *   pickup, and a spike of slow requests ends with about one thread per request in flight;
 * - when admission refuses and no poller is left, the request just picked up is answered
 *   with admission's refusal (RESOURCE_EXHAUSTED) and the thread polls again;
 * - after its work a thread polls again while pollers are at most the maximum (min + 1, as
 *   upstream's defaults 1 and 2); beyond it the thread exits, here after a grace (below).
 * Deviations, each for a thread that costs an isolate and a model load rather than
 * microseconds: idle pollers are a stack (the most recently idle takes the next request, so
 * under steady load few threads stay in use and warm), and surplus pollers exit only once the
 * pool has had surplus for the whole grace, longest idle first.
 */
import type { HandlerThreadInfo, ThreadStats } from '../common/diagnostics-api.js';
import { LsError } from '../common/errors.js';
import type { ThreadAdmission } from './thread-admission.js';

/** A request as the pool sees it: it can only be refused. */
export interface PoolJob {
  reject(e: Error): void;
}

/** One thread as the pool sees it. */
export interface PoolThread<J extends PoolJob> {
  readonly id: number;
  /** Hands the thread a request it picked up; it answers through ThreadEvents.done(). */
  run(job: J): void;
  /** Asks the thread to end itself after what it was sent before; it reports exited(). */
  exit(): void;
}

/** What a thread reports to the pool. */
export interface ThreadEvents<J extends PoolJob> {
  /** It is up and polls. */
  online(): void;
  /** It answered its request and polls again (or leaves); returns that request to settle. */
  done(): J | undefined;
  /** Its channel broke: its request fails with `why`, and it goes. */
  broken(why: string): void;
  /** It ended, asked to or on its own (`lastError`: what it threw, if anything). */
  exited(code: number, lastError?: string): void;
}

/** Time for the grace: real by default, a manual clock in tests. */
export interface PoolClock {
  now(): number;
  /** Calls `fn` after `ms` without keeping the process alive; returns a cancel function. */
  after(ms: number, fn: () => void): () => void;
}

const REAL_CLOCK: PoolClock = {
  now: () => performance.now(),
  after(ms, fn) {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return () => clearTimeout(timer);
  },
};

export interface ThreadPoolOptions<T, J extends PoolJob> {
  readonly admission: ThreadAdmission;
  /** gRPC's min pollers (at least 1); the maximum is one more. */
  readonly minPollers: number;
  /** How long surplus pollers wait before they exit; 0 is upstream (at once). */
  readonly idleGraceMs: number;
  /**
   * Starts one thread, which reports through `events` (never from within this call). May
   * throw; nothing is counted then.
   */
  readonly start: (events: ThreadEvents<J>) => T;
  readonly clock?: PoolClock;
}

type ThreadState = 'starting' | 'polling' | 'working' | 'exiting';

interface Pooled<T, J> {
  readonly thread: T;
  state: ThreadState;
  busy: J | undefined;
  /** When it last began polling (clock.now()): the longest idle leave first. */
  idleSince: number;
}

export class ThreadPool<T extends PoolThread<J>, J extends PoolJob> {
  private readonly threads = new Map<number, Pooled<T, J>>();
  /**
   * Polling threads, most recently idle first. The front takes the work, so under steady
   * load the threads in use stay few and warm (a thread is an isolate of its own: its caches
   * and JIT go cold when work rotates through all of them), and the back is where threads
   * left idle by a calmer load wait out the grace and exit.
   */
  private readonly polling: Pooled<T, J>[] = [];
  /** Cancels the armed reaper (see afterWork). */
  private cancelReap: (() => void) | undefined;
  /** When pollers last fell to the maximum or below: the pool was all needed then. */
  private lastFull = 0;
  /** The completion queue. */
  private readonly cq: J[] = [];
  /** Starting + polling threads, as upstream's num_pollers_ (a new thread counts at once). */
  private numPollers = 0;
  private readonly minPollers: number;
  private readonly maxPollers: number;
  /** Threads holding admission's quota: alive and not on their way out. */
  private holding = 0;
  private peak = 0;
  private created = 0;
  private exited = 0;
  private isClosed = false;
  private readonly exits = new Set<Promise<void>>();
  private readonly clock: PoolClock;

  constructor(private readonly opts: ThreadPoolOptions<T, J>) {
    this.clock = opts.clock ?? REAL_CLOCK;
    this.minPollers = Math.max(1, opts.minPollers);
    this.maxPollers = this.minPollers + 1;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Requests waiting for a poller. */
  get queued(): number {
    return this.cq.length;
  }

  /** Queues a request; a poller picks it up now or when one is free. */
  submit(job: J): void {
    this.cq.push(job);
    // Nobody left to poll (all threads exited, or none started yet): start one.
    if (this.numPollers === 0) this.trySpawn();
    this.pump();
  }

  /** Starts the pollers gRPC's sync server keeps from the start (min pollers). */
  prestart(): void {
    if (this.isClosed) return;
    while (this.numPollers < this.minPollers && this.trySpawn());
  }

  /** Threads alive and not on their way out. */
  *live(): IterableIterator<T> {
    for (const p of this.threads.values()) if (p.state !== 'exiting') yield p.thread;
  }

  /** A thread alive and not on its way out, by id. */
  find(id: number): T | undefined {
    const p = this.threads.get(id);
    return p && p.state !== 'exiting' ? p.thread : undefined;
  }

  list(): HandlerThreadInfo[] {
    return [...this.threads.values()]
      .filter((p) => p.state !== 'exiting')
      .map((p) => ({ id: p.thread.id, busy: p.state === 'working' }));
  }

  stats(): ThreadStats {
    return {
      current: this.threads.size,
      idle: this.polling.length,
      peak: this.peak,
      created: this.created,
      exited: this.exited,
      cap: this.opts.admission.cap,
      queued: this.cq.length,
    };
  }

  /** Refuses the queued requests with LS_ERR_SHUTTING_DOWN and ends every thread. */
  async close(): Promise<void> {
    this.isClosed = true;
    this.cancelReap?.();
    this.cancelReap = undefined;
    for (const j of this.cq.splice(0))
      j.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down before the request ran'));
    this.polling.length = 0;
    for (const p of this.threads.values()) this.retire(p);
    await Promise.all([...this.exits]);
  }

  /** Starts a thread if admission allows; it counts as a poller from now on. */
  private trySpawn(): boolean {
    if (!this.opts.admission.allows(this.holding)) return false;
    let exited!: () => void;
    const exit = new Promise<void>((resolve) => (exited = resolve));
    // The thread reports only after start() has returned, so `p` is set by then.
    const p: Pooled<T, J> = {
      thread: this.opts.start({
        online: () => this.onOnline(p),
        done: () => this.onDone(p),
        broken: (why) => this.onBroken(p, why),
        exited: (code, lastError) => {
          this.onExit(p, code, lastError);
          this.exits.delete(exit);
          exited();
        },
      }),
      state: 'starting',
      busy: undefined,
      idleSince: 0,
    };
    this.threads.set(p.thread.id, p);
    this.exits.add(exit);
    this.holding++;
    this.created++;
    this.numPollers++;
    if (this.threads.size > this.peak) this.peak = this.threads.size;
    return true;
  }

  private onOnline(p: Pooled<T, J>): void {
    if (p.state !== 'starting') return;
    p.state = 'polling';
    p.idleSince = this.clock.now();
    this.polling.unshift(p); // started because work was waiting
    this.pump();
    if (this.numPollers > this.maxPollers) this.scheduleReap();
  }

  /** Polling threads pick up queued requests. */
  private pump(): void {
    while (this.cq.length > 0 && this.polling.length > 0) {
      this.pickUp(this.polling.shift()!, this.cq.shift()!);
    }
  }

  private pickUp(p: Pooled<T, J>, job: J): void {
    this.numPollers--;
    if (this.numPollers <= this.maxPollers) this.lastFull = this.clock.now();
    if (this.numPollers < this.minPollers && !this.trySpawn() && this.numPollers === 0) {
      // Upstream answers this request RESOURCE_EXHAUSTED and keeps the thread polling.
      job.reject(this.opts.admission.refusal());
      this.afterWork(p);
      return;
    }
    p.state = 'working';
    p.busy = job;
    p.thread.run(job);
  }

  private onDone(p: Pooled<T, J>): J | undefined {
    const job = p.busy;
    p.busy = undefined;
    // Back to the pool first, so the stats are settled when the caller sees the answer.
    this.afterWork(p);
    return job;
  }

  /** Back to polling (most recently idle first); past the maximum pollers, surplus leaves (see scheduleReap). */
  private afterWork(p: Pooled<T, J>): void {
    if (this.isClosed || p.state === 'exiting') return;
    p.state = 'polling';
    p.idleSince = this.clock.now();
    this.numPollers++;
    this.polling.unshift(p);
    if (this.numPollers > this.maxPollers) {
      // Upstream: this thread exits now. With a grace, surplus pollers exit once the pool has
      // had surplus for that long (load that keeps needing them keeps them), the longest idle
      // first.
      if (this.opts.idleGraceMs <= 0) this.retire(p);
      else this.scheduleReap();
    }
    this.pump();
  }

  /** Arms the reaper for when the pool and its longest-idle poller will have had the grace. */
  private scheduleReap(): void {
    if (this.cancelReap || this.isClosed || this.polling.length === 0) return;
    const oldest = this.polling[this.polling.length - 1]!;
    this.cancelReap = this.clock.after(
      Math.max(0, Math.max(this.lastFull, oldest.idleSince) + this.opts.idleGraceMs - this.clock.now()),
      () => this.reap(),
    );
  }

  private reap(): void {
    this.cancelReap = undefined;
    const since = this.clock.now() - this.opts.idleGraceMs;
    if (this.lastFull <= since) {
      while (this.numPollers > this.maxPollers && this.polling.length > 0) {
        const oldest = this.polling[this.polling.length - 1]!;
        if (oldest.idleSince > since) break;
        this.retire(oldest);
      }
    }
    if (this.numPollers > this.maxPollers) this.scheduleReap();
  }

  private onBroken(p: Pooled<T, J>, why: string): void {
    const job = p.busy;
    p.busy = undefined;
    this.retire(p);
    job?.reject(new LsError('LS_ERR_INFERENCE', `handler thread ${p.thread.id}: ${why}`));
  }

  private retire(p: Pooled<T, J>): void {
    if (p.state === 'exiting') return;
    if (p.state === 'starting' || p.state === 'polling') {
      const i = this.polling.indexOf(p);
      if (i >= 0) this.polling.splice(i, 1);
      this.numPollers--;
    }
    p.state = 'exiting';
    this.holding--;
    p.thread.exit();
  }

  private onExit(p: Pooled<T, J>, code: number, lastError: string | undefined): void {
    this.threads.delete(p.thread.id);
    // Died on its own: give back its quota and its poller place.
    if (p.state !== 'exiting') this.retire(p);
    this.exited++;
    const job = p.busy;
    p.busy = undefined;
    if (job) {
      if (this.isClosed)
        job.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down while the request was running'));
      else
        job.reject(
          new LsError(
            'LS_ERR_INFERENCE',
            `handler thread ${p.thread.id} died while running the request (exit code ${code}${lastError ? `: ${lastError}` : ''})`,
          ),
        );
    }
    // Requests still queued need a poller.
    if (!this.isClosed && this.cq.length > 0 && this.numPollers === 0) {
      if (!this.trySpawn()) for (const j of this.cq.splice(0)) j.reject(this.opts.admission.refusal());
    }
  }
}
