/**
 * The handler-thread pool: gRPC C++'s sync-server thread manager rules
 * (src/cpp/thread_manager/thread_manager.cc, ThreadManager::MainWorkLoop), over threads it
 * starts through a factory (worker_threads in the server, fakes in the tests):
 * - requests wait in a completion queue until a polling thread picks one up;
 * - a thread that picks up work leaves the pollers; if pollers fall below the minimum it
 *   starts one new thread, if admission allows. The new thread counts as a poller at once
 *   (upstream's `num_pollers_++` before the thread exists) and polls at once: it takes the
 *   next queued request before its isolate is up, and that request waits for the boot, as a
 *   request upstream waits for its new thread to be scheduled. So the spawn chain runs at
 *   pickup speed, not one isolate boot per step, and a spike of slow requests gets about one
 *   thread per request in flight (leak 2);
 * - a thread that has answered polls again at once, as upstream's does: when a pickup is about
 *   to leave the pollers short, the answers the main thread has not read yet are taken first
 *   (`PoolThread.collect`), so a busy main thread (a burst of requests read in one turn, a
 *   loaded machine) does not make free threads look busy and refuse or start threads for nothing;
 * - when admission refuses and no poller is left, the request just picked up is answered
 *   with admission's refusal (RESOURCE_EXHAUSTED) and the thread polls again;
 * - after its work a thread polls again while pollers are at most the maximum (min + 1, as
 *   upstream's defaults 1 and 2); beyond it the thread exits, here after a grace (below).
 * Deviations, each for a thread that costs an isolate boot (~75–130 ms of CPU on this kind of
 * machine, `npm run bench:threads`) rather than microseconds:
 * - at most `maxBooting` threads boot at once at normal priority (about the CPU count). Boots
 *   beyond the cores only share them: each then takes longer, and the main thread — which
 *   accepts, decodes and hands out the requests — gets one share among all of them (with 120
 *   booting at once a pickup took 114–153 ms of wall time for ~1 ms of CPU). The others the
 *   chain started are, with `backgroundBoots`, created at once to boot in the background (the
 *   lowest CPU priority, thread-priority.ts: the OS thread exists, as upstream's does, without
 *   taking the main thread's share) and brought to normal priority in start order as slots
 *   free; without it they wait their turn to be created. Either way they count as threads and
 *   pollers;
 * - a request waiting for a boot is taken over by a thread that is up and frees first; the
 *   booting thread polls instead (the thread count, leak 2's subject, is the same);
 * - a thread still booting takes a request only while admission would let the chain start the
 *   next thread: that is all its early pickup is for. Past the cap the request waits in the
 *   queue for a thread that is up (or for the boot), as upstream's waits in the completion queue
 *   for a thread to be scheduled — the booting threads stay pollers, so a capped pool refuses
 *   only when every thread holds a request, never because its threads are booting;
 * - a poller that is up takes work before one still booting, and idle pollers that are up are
 *   a stack (the most recently idle takes the next request, so under steady load few threads
 *   stay in use and warm);
 * - surplus pollers exit only once the pool has had surplus for the whole grace, longest idle
 *   first, and never while threads it started are still to come up (the spike that started
 *   them is still being served). Idle time counts only while the main thread could hand out
 *   work: a reaper that fires more than half a grace late saw the main thread blocked (a heap
 *   snapshot, a long GC) while requests piled up unread, so it gives the load a new grace
 *   instead of retiring threads the next moment needs.
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
  /** Whether it boots in the background (asked of start(), and the thread could be lowered). */
  readonly background?: boolean;
  /** Brings a thread booting in the background to normal priority (for the rest of its life). */
  foreground?(): void;
  /**
   * Takes the thread's answer if it has answered and the answer is not read yet (its done()
   * is called from within); true if it did. Absent: answers are only read as they arrive.
   */
  collect?(): boolean;
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
  /** Threads booting at once at normal priority (at least 1; default unbounded). */
  readonly maxBooting?: number;
  /**
   * Whether threads past `maxBooting` are created at once to boot in the background (start()
   * is asked for one) rather than wait their turn to be created.
   */
  readonly backgroundBoots?: boolean;
  /**
   * Starts one thread, which reports through `events` (never from within this call); with
   * `background`, one that boots at the lowest priority if it can (PoolThread.background). May
   * throw: the request waiting for that thread, if any, fails with the error.
   */
  readonly start: (events: ThreadEvents<J>, background: boolean) => T;
  readonly clock?: PoolClock;
}

type ThreadState = 'polling' | 'working' | 'exiting';

interface Pooled<T, J> {
  /** Set once it is created: until then it waits for a boot slot. */
  thread: T | undefined;
  state: ThreadState;
  /** Whether it reported online(): until then what it is sent waits for its boot. */
  booted: boolean;
  busy: J | undefined;
  /** When it last began polling (clock.now()): the longest idle leave first. */
  idleSince: number;
  /** Resolves the pool's wait for its end (close()). */
  ended: () => void;
}

export class ThreadPool<T extends PoolThread<J>, J extends PoolJob> {
  /** Every thread the pool started and that has not ended, created or still waiting to be. */
  private readonly threads = new Set<Pooled<T, J>>();
  /**
   * Polling threads that are up, most recently idle first. The front takes the work, so under
   * steady load the threads in use stay few and warm (a thread is an isolate of its own: its
   * caches and JIT go cold when work rotates through all of them), and the back is where
   * threads left idle by a calmer load wait out the grace and exit.
   */
  private readonly polling: Pooled<T, J>[] = [];
  /**
   * Polling threads not up yet (booting, or waiting to be created), oldest first: pollers as
   * much as the others (upstream's new thread polls microseconds after it is created), taking
   * work when no thread that is up is free. What they take runs once they are up.
   */
  private readonly booting: Pooled<T, J>[] = [];
  /** Threads not up yet holding a request that waits for their boot, oldest first (see afterWork). */
  private readonly waiting: Pooled<T, J>[] = [];
  /** Threads the chain started that wait for a boot slot to be created, in start order. */
  private readonly toCreate: Pooled<T, J>[] = [];
  /** Threads created and not up yet, booting at normal priority (at most maxBooting). */
  private bootingNow = 0;
  /** Threads created and not up yet, booting in the background, in start order. */
  private readonly inBackground: Pooled<T, J>[] = [];
  private readonly maxBooting: number;
  /** Cancels the armed reaper (see afterWork). */
  private cancelReap: (() => void) | undefined;
  /** When the armed reaper is due (clock.now()): firing much later means the main thread was blocked. */
  private reapDue = 0;
  /** When pollers last fell to the maximum or below, or a thread last came up: the pool was all needed then. */
  private lastFull = 0;
  /** The completion queue. */
  private readonly cq: J[] = [];
  /** Polling threads, up or not, as upstream's num_pollers_ (a new thread counts at once). */
  private numPollers = 0;
  private readonly minPollers: number;
  private readonly maxPollers: number;
  /** Threads holding admission's quota: started and not on their way out. */
  private holding = 0;
  /** Threads created (worker_threads exist) and not ended. */
  private alive = 0;
  private peak = 0;
  private created = 0;
  private exited = 0;
  private isClosed = false;
  private readonly exits = new Set<Promise<void>>();
  /** Callers of whenUp(), resolved once no thread is starting. */
  private upWaiters: Array<() => void> = [];
  private readonly clock: PoolClock;

  constructor(private readonly opts: ThreadPoolOptions<T, J>) {
    this.clock = opts.clock ?? REAL_CLOCK;
    this.minPollers = Math.max(1, opts.minPollers);
    this.maxPollers = this.minPollers + 1;
    this.maxBooting = Math.max(1, opts.maxBooting ?? Number.POSITIVE_INFINITY);
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
    // A pickup now would leave the pollers short (start a thread, or refuse): threads that have
    // answered are pollers again, whether or not the main thread has read their answer yet.
    if (this.numPollers <= this.minPollers) this.collectAnswers();
    // Nobody left to poll (all threads exited, or none started yet): start one.
    if (this.numPollers === 0) this.trySpawn();
    this.pump();
  }

  /**
   * Resolves once no thread is starting. gRPC's sync server starts its pollers before it
   * serves (Server::Start); a server here waits for its prestarted threads the same way, so
   * its first requests do not each start a thread while the first isolate is still booting.
   */
  whenUp(): Promise<void> {
    if (this.starting() === 0) return Promise.resolve();
    return new Promise((resolve) => this.upWaiters.push(resolve));
  }

  /** Starts the pollers gRPC's sync server keeps from the start (min pollers). */
  prestart(): void {
    if (this.isClosed) return;
    while (this.numPollers < this.minPollers && this.trySpawn());
  }

  /** Threads alive and not on their way out. */
  *live(): IterableIterator<T> {
    for (const p of this.threads) if (p.thread && p.state !== 'exiting') yield p.thread;
  }

  /** A thread alive and not on its way out, by id. */
  find(id: number): T | undefined {
    for (const t of this.live()) if (t.id === id) return t;
    return undefined;
  }

  list(): HandlerThreadInfo[] {
    const out: HandlerThreadInfo[] = [];
    for (const p of this.threads)
      if (p.thread && p.state !== 'exiting') out.push({ id: p.thread.id, busy: p.state === 'working' });
    return out;
  }

  stats(): ThreadStats {
    return {
      current: this.alive,
      idle: this.polling.length + this.booting.length,
      peak: this.peak,
      created: this.created,
      exited: this.exited,
      cap: this.opts.admission.cap,
      queued: this.cq.length,
      starting: this.starting(),
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
    this.booting.length = 0;
    for (const p of [...this.threads]) this.retire(p);
    this.settleUp();
    await Promise.all([...this.exits]);
  }

  /** Threads started and not up yet: booting, or waiting for a boot slot. */
  private starting(): number {
    return this.bootingNow + this.inBackground.length + this.toCreate.length;
  }

  private settleUp(): void {
    if (this.upWaiters.length === 0 || this.starting() > 0) return;
    const waiters = this.upWaiters;
    this.upWaiters = [];
    for (const w of waiters) w();
  }

  /** Starts a thread if admission allows; it counts as a poller, and may take work, from now on. */
  private trySpawn(): boolean {
    if (!this.opts.admission.allows(this.holding)) return false;
    let ended!: () => void;
    const exit = new Promise<void>((resolve) => (ended = resolve));
    const p: Pooled<T, J> = {
      thread: undefined,
      state: 'polling',
      booted: false,
      busy: undefined,
      idleSince: this.clock.now(),
      ended: () => {
        this.exits.delete(exit);
        ended();
      },
    };
    this.threads.add(p);
    this.exits.add(exit);
    this.booting.push(p);
    this.toCreate.push(p);
    this.holding++;
    this.numPollers++;
    this.createNext();
    return true;
  }

  /**
   * Creates the threads waiting for a boot slot while slots are free, and with background boots
   * the rest at once, in the background. Background threads move to the slots that free first.
   */
  private createNext(): void {
    while (this.bootingNow < this.maxBooting && this.inBackground.length > 0) {
      const p = this.inBackground.shift()!;
      p.thread!.foreground?.();
      this.bootingNow++;
    }
    while (this.toCreate.length > 0) {
      const background = this.bootingNow >= this.maxBooting;
      // Past the bound only in the background, and not while a thread that could not be
      // lowered boots at normal priority beyond it.
      if (background && (!this.opts.backgroundBoots || this.bootingNow > this.maxBooting)) break;
      const p = this.toCreate.shift()!;
      try {
        // The thread reports only after start() has returned, so `p.thread` is set by then.
        p.thread = this.opts.start(
          {
            online: () => this.onOnline(p),
            done: () => this.onDone(p),
            broken: (why) => this.onBroken(p, why),
            exited: (code, lastError) => this.onExit(p, code, lastError),
          },
          background,
        );
      } catch (e) {
        this.failedToStart(p, e as Error);
        continue;
      }
      this.alive++;
      this.created++;
      if (this.alive > this.peak) this.peak = this.alive;
      if (background && p.thread.background) this.inBackground.push(p);
      else {
        this.bootingNow++;
        // One it could not lower boots at normal priority past the bound: the next waits for a slot.
        if (background) break;
      }
    }
    this.settleUp();
  }

  /** A thread created and not up has come up or ended: its boot (slot or background) is over. */
  private bootOver(p: Pooled<T, J>): void {
    const i = this.inBackground.indexOf(p);
    if (i >= 0) this.inBackground.splice(i, 1);
    else this.bootingNow--;
  }

  /**
   * A thread the factory could not create: its request fails, its place is given back, and
   * requests left with no poller fail the same way (no retry loop on a factory that keeps failing).
   */
  private failedToStart(p: Pooled<T, J>, e: Error): void {
    const why = () =>
      e instanceof LsError ? e : new LsError('LS_ERR_INFERENCE', `a handler thread could not be started: ${e.message}`);
    const job = p.busy;
    p.busy = undefined;
    this.forget(p);
    job?.reject(why());
    if (this.numPollers === 0) for (const j of this.cq.splice(0)) j.reject(why());
  }

  /** Takes a thread that never was created out of the pool. */
  private forget(p: Pooled<T, J>): void {
    if (p.state === 'exiting') return;
    if (p.state === 'polling') {
      this.unlist(p);
      this.numPollers--;
    } else this.unwait(p);
    const i = this.toCreate.indexOf(p);
    if (i >= 0) this.toCreate.splice(i, 1);
    p.state = 'exiting';
    this.holding--;
    this.threads.delete(p);
    p.ended();
  }

  private onOnline(p: Pooled<T, J>): void {
    if (p.booted) return;
    p.booted = true;
    // Up: it serves at normal priority, whether or not a slot freed for it first.
    if (this.inBackground.includes(p)) p.thread!.foreground?.();
    this.bootOver(p);
    // A thread coming up is one the load asked for: no surplus is counted before it.
    this.lastFull = this.clock.now();
    if (p.state === 'working') {
      // It took a request while booting: the request goes to it now.
      this.unwait(p);
      p.thread!.run(p.busy!);
    } else if (p.state === 'polling') {
      this.unlist(p, false);
      p.idleSince = this.clock.now();
      this.polling.unshift(p);
      this.pump();
      if (this.numPollers > this.maxPollers) this.scheduleReap();
    }
    this.createNext();
  }

  /** Reads the answers of working threads that have answered; each then polls again (afterWork). */
  private collectAnswers(): void {
    for (const p of this.threads) if (p.state === 'working' && p.booted) p.thread!.collect?.();
  }

  /**
   * Polling threads pick up queued requests: those that are up first, then those booting, only
   * while the chain may start another thread (otherwise the request waits for a thread that is up).
   */
  private pump(): void {
    while (this.cq.length > 0) {
      const p = this.polling.shift() ?? (this.opts.admission.allows(this.holding) ? this.booting.shift() : undefined);
      if (!p) return;
      this.pickUp(p, this.cq.shift()!);
    }
  }

  private unwait(p: Pooled<T, J>): void {
    const i = this.waiting.indexOf(p);
    if (i >= 0) this.waiting.splice(i, 1);
  }

  /** Takes a polling thread off whichever list holds it (`booted`: which one). */
  private unlist(p: Pooled<T, J>, booted = p.booted): void {
    const list = booted ? this.polling : this.booting;
    const i = list.indexOf(p);
    if (i >= 0) list.splice(i, 1);
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
    if (p.booted) p.thread!.run(job);
    else this.waiting.push(p); // sent when it is up (onOnline), unless taken over (afterWork)
  }

  private onDone(p: Pooled<T, J>): J | undefined {
    if (p.state !== 'working') return undefined; // no request to answer: a stray report
    const job = p.busy;
    p.busy = undefined;
    // Back to the pool first, so the stats are settled when the caller sees the answer.
    this.afterWork(p);
    return job;
  }

  /** Back to polling (most recently idle first); past the maximum pollers, surplus leaves (see scheduleReap). */
  private afterWork(p: Pooled<T, J>): void {
    if (this.isClosed || p.state === 'exiting') return;
    // A thread that is up takes over the request waiting longest for a boot; the booting
    // thread polls instead, as if it had answered it.
    const q = p.booted ? this.waiting.shift() : undefined;
    if (q) {
      p.state = 'working';
      p.busy = q.busy;
      q.busy = undefined;
      p.thread!.run(p.busy!);
      this.afterWork(q);
      return;
    }
    p.state = 'polling';
    p.idleSince = this.clock.now();
    this.numPollers++;
    // A thread that gave up its request while booting polls on among the booting.
    if (p.booted) this.polling.unshift(p);
    else this.booting.unshift(p);
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
    const wait = Math.max(0, Math.max(this.lastFull, oldest.idleSince) + this.opts.idleGraceMs - this.clock.now());
    this.reapDue = this.clock.now() + wait;
    this.cancelReap = this.clock.after(wait, () => this.reap());
  }

  private reap(): void {
    this.cancelReap = undefined;
    // Threads still to come up were started by load the pool is still serving: the last of
    // them coming up (onOnline) arms the reaper again.
    if (this.starting() > 0) return;
    const now = this.clock.now();
    if (now - this.reapDue > this.opts.idleGraceMs / 2) {
      // The main thread was blocked past the due time (timers run before the requests that
      // queued meanwhile are read): nothing was seen of the load, so it gets a new grace.
      this.lastFull = now;
      this.scheduleReap();
      return;
    }
    const since = now - this.opts.idleGraceMs;
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
    job?.reject(new LsError('LS_ERR_INFERENCE', `handler thread ${p.thread!.id}: ${why}`));
  }

  /** Takes a thread out of service and, unless it has ended already (`ask` false), asks it to end. */
  private retire(p: Pooled<T, J>, ask = true): void {
    if (p.state === 'exiting') return;
    if (!p.thread) {
      // Never created: nothing to end. Only close() retires one holding a request.
      const job = p.busy;
      p.busy = undefined;
      this.forget(p);
      job?.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down before the request ran'));
      return;
    }
    if (p.state === 'polling') {
      this.unlist(p);
      this.numPollers--;
    } else if (!p.booted) this.unwait(p);
    p.state = 'exiting';
    this.holding--;
    if (ask) p.thread.exit();
  }

  private onExit(p: Pooled<T, J>, code: number, lastError: string | undefined): void {
    if (!this.threads.delete(p)) return; // reported twice
    // Died on its own: give back its quota and its poller place.
    if (p.state !== 'exiting') this.retire(p, false);
    this.alive--;
    this.exited++;
    const wasUp = p.booted;
    if (!p.booted) {
      p.booted = true;
      this.bootOver(p);
    }
    p.ended();
    const job = p.busy;
    p.busy = undefined;
    if (job) {
      if (this.isClosed)
        job.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down while the request was running'));
      else
        job.reject(
          new LsError(
            'LS_ERR_INFERENCE',
            `handler thread ${p.thread!.id} died ${wasUp ? 'while running the request' : 'before it was up, with the request waiting for it'} (exit code ${code}${lastError ? `: ${lastError}` : ''})`,
          ),
        );
    }
    if (!this.isClosed) {
      this.needPoller();
      this.createNext();
    } else this.settleUp();
  }

  /** Requests still queued need a poller: start one, or refuse them if none may start. */
  private needPoller(): void {
    if (this.isClosed || this.cq.length === 0 || this.numPollers > 0) return;
    if (!this.trySpawn()) for (const j of this.cq.splice(0)) j.reject(this.opts.admission.refusal());
    else this.pump();
  }
}
