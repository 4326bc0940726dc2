/**
 * Handler threads: Predict runs on worker_threads managed the way gRPC C++'s sync server
 * (ThreadManager) manages its threads. A request that finds no idle thread gets a new
 * one; after its request a thread exits if the idle threads already reach the idle limit
 * (gRPC's min pollers), so the thread count tracks in-flight requests. Whether a new
 * thread may be started is the admission strategy, picked once at start-up: uncapped
 * (leak 2: upstream's ResourceQuota defaults to INT_MAX threads) or capped (the
 * `thread-cap` fix, TF Serving PR #1785: past `--grpc_max_threads` the request is
 * answered RESOURCE_EXHAUSTED at once, never queued).
 */
import { availableParallelism } from 'node:os';
import type { Readable } from 'node:stream';
import { LsError } from '../common/errors.js';
import type { InferenceRunner } from './inference.js';
import type { Servable } from './repository.js';
import type { HostTensor } from '../wire/tensors.js';
import type { ThreadAdmission } from './thread-admission.js';
import { byIndex, VersionSlots, type WireJob, WorkerThread } from './thread-channel.js';
import type { HandlerThreadInfo, ThreadStats } from '../common/diagnostics-api.js';
import { ThreadPool } from './thread-pool.js';
import { backgroundBoots } from './thread-priority.js';
import { encodeRequest } from './thread-wire.js';

export interface HandlerThreadOptions {
  readonly admission: ThreadAdmission;
  /** Idle threads kept (gRPC's min pollers); a thread finishing beyond it exits. */
  readonly minIdleThreads: number;
  /** Service time spent blocking the handler thread per request. */
  readonly modelDelayMs: number;
  /**
   * How long the pool must have had pollers beyond the maximum, and a poller been idle,
   * before that poller exits (the longest idle first): a load that keeps needing its threads
   * keeps them. 0 is upstream exactly (exit right after the request), which thrashes under steady load:
   * gRPC's thread_manager.cc warns of it and suggests a longer poll timeout, and here a new
   * thread costs ~30 ms and a model load, not microseconds.
   */
  readonly idleGraceMs?: number;
  /** The worker script (tests swap it); default: handler-thread-worker.js beside this file. */
  readonly workerUrl?: URL;
  /**
   * Threads booting an isolate at once at normal priority (thread-pool.ts). Default: the CPUs
   * this process may use, which boots saturate without starving the main thread
   * (`--max-booting-threads`).
   */
  readonly maxBooting?: number;
  /**
   * Whether the threads a spike starts past `maxBooting` are created at once to boot at the
   * lowest priority (thread-priority.ts), where this process can raise them back; otherwise
   * they wait their turn to be created (`--background-boots`). Default true.
   */
  readonly backgroundBoots?: boolean;
}

const DEFAULT_WORKER_URL = new URL('./handler-thread-worker.js', import.meta.url);

/**
 * Runs Predict on handler threads: admission (thread-admission.ts) decides what is refused
 * RESOURCE_EXHAUSTED, the pool (thread-pool.ts) starts, hands work to and retires threads by
 * gRPC C++'s ThreadManager rules, and the wire (thread-channel.ts, thread-wire.ts) moves
 * requests and replies between the main thread and each worker_thread.
 */
export class HandlerThreadRunner implements InferenceRunner {
  private readonly pool: ThreadPool<WorkerThread, WireJob>;
  private readonly slots = new VersionSlots();
  private requestSeq = 0;

  constructor(private readonly opts: HandlerThreadOptions) {
    const url = opts.workerUrl ?? DEFAULT_WORKER_URL;
    // Chosen once: undefined where threads cannot be lowered and raised back (not Linux, no right).
    const priority = opts.backgroundBoots === false ? undefined : backgroundBoots();
    this.pool = new ThreadPool({
      admission: opts.admission,
      // Upstream's defaults are min 1, max 2 pollers.
      minPollers: opts.minIdleThreads,
      idleGraceMs: opts.idleGraceMs ?? 0,
      maxBooting: opts.maxBooting ?? availableParallelism(),
      backgroundBoots: priority !== undefined,
      // A new thread learns every loaded version before its first request.
      start: (events, background) =>
        new WorkerThread(url, this.slots.loads(), events, background ? priority : undefined),
    });
  }

  get cap(): number | null {
    return this.opts.admission.cap;
  }

  async run(
    servable: Servable,
    feeds: Readonly<Record<string, HostTensor>>,
    fetches: readonly string[],
  ): Promise<Record<string, HostTensor>> {
    if (this.pool.closed) throw new LsError('LS_ERR_SHUTTING_DOWN', 'the server is shutting down');
    // The fix promises no unbounded queue: past `cap` waiting requests, refuse at once (before encoding).
    if (!this.opts.admission.queues(this.pool.queued)) throw this.opts.admission.refusal();
    const named = byIndex(servable, feeds, fetches);
    const bytes = encodeRequest({
      id: ++this.requestSeq,
      slot: this.slots.slotOf(servable, this.pool.live()),
      delayMs: this.opts.modelDelayMs,
      fetches: named.fetches,
      feeds: named.feeds,
    });
    const { outputs } = servable.signature;
    return new Promise((resolve, reject) => this.pool.submit({ bytes, resolve, reject, outputs }));
  }

  /**
   * Starts the pollers gRPC's sync server keeps from the start (min pollers) and has every
   * thread load the version's session ahead of its first request (repository.onLoad), so a
   * cold server does not pay a model load on its first requests.
   */
  prewarm(s: Servable): void {
    if (this.pool.closed) return;
    this.pool.prestart();
    this.slots.slotOf(s, this.pool.live()); // registering a slot sends its load message to every thread
  }

  /** Resolves once no handler thread is starting (the server awaits its prestarted pollers before it serves). */
  whenUp(): Promise<void> {
    return this.pool.whenUp();
  }

  /** Drops every thread's session of an unloaded version (repository.onUnload). */
  dropServable(s: Servable): void {
    this.slots.drop(s, this.pool.live());
  }

  threadStats(): ThreadStats {
    return this.pool.stats();
  }

  /** Handler threads alive now, by worker threadId. */
  listThreads(): HandlerThreadInfo[] {
    return this.pool.list();
  }

  /**
   * A heap snapshot of one handler thread's isolate, as a stream. A thread blocked in its
   * service time answers once the block ends.
   */
  heapSnapshot(id: number): Promise<Readable> {
    const t = this.pool.find(id);
    if (!t) {
      const ids = this.listThreads().map((x) => x.id);
      return Promise.reject(
        new LsError(
          'LS_ERR_DIAGNOSTICS',
          `no handler thread ${id} (threads now: ${ids.length ? ids.join(', ') : 'none'})`,
        ),
      );
    }
    return t.heapSnapshot();
  }

  /** Terminates every handler thread; queued and running requests get LS_ERR_SHUTTING_DOWN. */
  close(): Promise<void> {
    return this.pool.close();
  }
}
