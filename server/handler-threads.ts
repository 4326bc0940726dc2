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
import type { Readable } from 'node:stream';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { HandlerThreadInfo, ThreadStats } from '../common/diagnostics-api.js';
import { LsError } from '../common/errors.js';
import type { FixSet } from './fixes.js';
import type { InferenceRunner } from './inference.js';
import type { Servable } from './repository.js';
import type { TensorSpec } from './signature.js';
import type { HostTensor } from '../wire/tensors.js';
import {
  decodeReply,
  encodeRequest,
  SIGNAL_SEQ,
  SIGNAL_YIELD,
  type HandlerThreadData,
  type ThreadControl,
} from './thread-wire.js';

/** Whether a request that finds no idle thread may start one. */
export interface ThreadAdmission {
  /** null when uncapped. */
  readonly cap: number | null;
  /** Whether thread `alive + 1` may start. */
  allows(alive: number): boolean;
  /** The answer to a request refused for want of a thread (LS_ERR_THREADS_EXHAUSTED). */
  refusal(): LsError;
  /** Throws refusal() when thread `alive + 1` may not start. */
  admit(alive: number): void;
}

function admission(cap: number | null, refusal: () => LsError): ThreadAdmission {
  const allows = (alive: number) => cap === null || alive < cap;
  return Object.freeze({
    cap,
    allows,
    refusal,
    admit(alive: number) {
      if (!allows(alive)) throw refusal();
    },
  });
}

/** Leaky: upstream's ResourceQuota default max threads is INT_MAX, so no cap at all. */
export const UNCAPPED_ADMISSION: ThreadAdmission = admission(
  null,
  () => new LsError('LS_ERR_THREADS_EXHAUSTED', 'no handler thread could be started'),
);

/** The `thread-cap` fix: at most `max` handler threads; past it, reject at once. */
export function cappedAdmission(max: number): ThreadAdmission {
  if (!Number.isInteger(max) || max < 1)
    throw new LsError('LS_ERR_INVALID_OPTION', `--grpc_max_threads: expected an integer ≥ 1, got ${max}`);
  return admission(
    max,
    () =>
      new LsError(
        'LS_ERR_THREADS_EXHAUSTED',
        `all ${max} handler threads are busy (--grpc_max_threads ${max}); request rejected, retry later`,
      ),
  );
}

/** Picks the admission strategy for a fix set, once, at start-up. */
export function threadAdmission(fixes: FixSet, grpcMaxThreads: number): ThreadAdmission {
  return fixes.fixes.has('thread-cap') ? cappedAdmission(grpcMaxThreads) : UNCAPPED_ADMISSION;
}

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
}

interface Pending {
  resolve(out: Record<string, HostTensor>): void;
  reject(e: Error): void;
  /** The version's outputs; replies name them by index. */
  readonly outputs: readonly TensorSpec[];
}

/** A request waiting in the completion queue, or running on a thread. */
interface Job extends Pending {
  readonly bytes: Uint8Array;
}

type ThreadState = 'starting' | 'polling' | 'working' | 'exiting';

interface HandlerThread {
  readonly id: number;
  readonly worker: Worker;
  /** The main thread's end of the thread's channel. */
  readonly port: MessagePort;
  /** The thread's signal words (handler-thread-loop.ts). */
  readonly signal: Int32Array;
  state: ThreadState;
  busy: Job | undefined;
  /** When it last began polling (performance.now()): the longest idle leave first. */
  idleSince: number;
  lastError: string | undefined;
}

const DEFAULT_WORKER_URL = new URL('./handler-thread-worker.js', import.meta.url);

/**
 * Runs Predict on handler threads with gRPC C++'s sync-server thread manager rules
 * (ThreadManager::MainWorkLoop):
 * - requests wait in a completion queue until a polling thread picks one up;
 * - a thread that picks up work leaves the pollers; if pollers fall below the minimum it
 *   starts one new thread, if the quota allows — so threads grow one per pickup, and a
 *   spike of slow requests ends with about one thread per request in flight;
 * - when the quota refuses and no poller is left, the request just picked up is answered
 *   RESOURCE_EXHAUSTED (the `thread-cap` fix), so a capped server never queues past the cap;
 * - after its work a thread polls again while pollers are below the maximum, and exits
 *   otherwise (after `idleGraceMs`, see HandlerThreadOptions).
 */
export class HandlerThreadRunner implements InferenceRunner {
  private readonly threads = new Map<number, HandlerThread>();
  /**
   * Polling threads, most recently idle first. The front takes the work, so under steady
   * load the threads in use stay few and warm (a thread is an isolate of its own: its caches
   * and JIT go cold when work rotates through all of them), and the back is where threads
   * left idle by a calmer load wait out the grace and exit.
   */
  private readonly polling: HandlerThread[] = [];
  /** Retires surplus pollers idle for the grace (see afterWork). */
  private reaper: NodeJS.Timeout | undefined;
  /** When pollers last fell to the maximum or below: the pool was all needed then. */
  private lastFull = 0;
  /** The completion queue. */
  private readonly cq: Job[] = [];
  /** Starting + polling threads, as upstream's num_pollers_ (a new thread counts at once). */
  private numPollers = 0;
  private readonly minPollers: number;
  private readonly maxPollers: number;
  private readonly exits = new Set<Promise<void>>();
  /** Each registered version's load message (its slot inside), replayed to every new thread. */
  private readonly loaded = new Map<Servable, Extract<ThreadControl, { type: 'load' }>>();
  private slotSeq = 0;
  private requestSeq = 0;
  /** Threads holding quota: alive and not on their way out. */
  private holding = 0;
  private peak = 0;
  private created = 0;
  private exited = 0;
  private closed = false;
  private readonly workerUrl: URL;

  constructor(private readonly opts: HandlerThreadOptions) {
    this.workerUrl = opts.workerUrl ?? DEFAULT_WORKER_URL;
    this.minPollers = Math.max(1, opts.minIdleThreads);
    // Upstream's defaults are min 1, max 2 pollers.
    this.maxPollers = this.minPollers + 1;
  }

  get cap(): number | null {
    return this.opts.admission.cap;
  }

  async run(
    servable: Servable,
    feeds: Readonly<Record<string, HostTensor>>,
    fetches: readonly string[],
  ): Promise<Record<string, HostTensor>> {
    if (this.closed) throw new LsError('LS_ERR_SHUTTING_DOWN', 'the server is shutting down');
    const cap = this.opts.admission.cap;
    // The fix promises no unbounded queue: past `cap` waiting requests, refuse at once.
    if (cap !== null && this.cq.length >= cap) throw this.opts.admission.refusal();
    const { inputIndex, outputIndex, outputs } = servable.signature;
    const fetchIndices = fetches.map((f) => {
      const i = outputIndex.get(f);
      if (i === undefined)
        throw new LsError('LS_ERR_INFERENCE', `output '${f}' is not an output of model '${servable.model}'`);
      return i;
    });
    const wire = Object.keys(feeds).map((name) => {
      const index = inputIndex.get(name);
      if (index === undefined)
        throw new LsError('LS_ERR_INFERENCE', `input '${name}' is not an input of model '${servable.model}'`);
      const t = feeds[name]!;
      return { index, dtype: t.dtype, dims: t.dims, data: t.data };
    });
    const bytes = encodeRequest({
      id: ++this.requestSeq,
      slot: this.slotOf(servable),
      delayMs: this.opts.modelDelayMs,
      fetches: fetchIndices,
      feeds: wire,
    });
    return new Promise((resolve, reject) => {
      this.cq.push({ bytes, resolve, reject, outputs });
      // Nobody left to poll (all threads exited, or none started yet): start one.
      if (this.numPollers === 0) this.trySpawn();
      this.pump();
    });
  }

  /**
   * Starts the pollers gRPC's sync server keeps from the start (min pollers) and has every
   * thread load the version's session ahead of its first request (repository.onLoad), so a
   * cold server does not pay a model load on its first requests.
   */
  prewarm(s: Servable): void {
    if (this.closed) return;
    while (this.numPollers < this.minPollers && this.trySpawn());
    this.slotOf(s); // registering a slot sends its load message to every thread
  }

  /** Drops every thread's session of an unloaded version (repository.onUnload). */
  dropServable(s: Servable): void {
    const load = this.loaded.get(s);
    if (!load) return;
    this.loaded.delete(s);
    const msg: ThreadControl = { type: 'drop', slot: load.slot };
    for (const t of this.threads.values()) if (t.state !== 'exiting') send(t, msg);
  }

  threadStats(): ThreadStats {
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

  /** Handler threads alive now, by worker threadId. */
  listThreads(): HandlerThreadInfo[] {
    return [...this.threads.values()]
      .filter((t) => t.state !== 'exiting')
      .map((t) => ({ id: t.id, busy: t.state === 'working' }));
  }

  /**
   * A heap snapshot of one handler thread's isolate, as a stream. A thread blocked in its
   * service time answers once the block ends.
   */
  heapSnapshot(id: number): Promise<Readable> {
    const t = this.threads.get(id);
    if (!t || t.state === 'exiting') {
      const ids = this.listThreads().map((x) => x.id);
      return Promise.reject(
        new LsError(
          'LS_ERR_DIAGNOSTICS',
          `no handler thread ${id} (threads now: ${ids.length ? ids.join(', ') : 'none'})`,
        ),
      );
    }
    const snapshot = t.worker.getHeapSnapshot();
    // An idle thread blocks on its queue; the snapshot is taken on its next event-loop turn.
    Atomics.store(t.signal, SIGNAL_YIELD, 1);
    bump(t);
    return snapshot;
  }

  /** Terminates every handler thread; queued and running requests get LS_ERR_SHUTTING_DOWN. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.reaper) clearTimeout(this.reaper);
    for (const j of this.cq.splice(0))
      j.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down before the request ran'));
    this.polling.length = 0;
    for (const t of this.threads.values()) this.retire(t);
    await Promise.all([...this.exits]);
  }

  /** The slot of a version: registered (and announced to every thread) on first use. */
  private slotOf(s: Servable): number {
    let load = this.loaded.get(s);
    if (!load) {
      load = {
        type: 'load',
        slot: ++this.slotSeq,
        path: s.path,
        inputs: s.signature.inputs.map((x) => x.name),
        outputs: s.signature.outputs.map((x) => x.name),
      };
      this.loaded.set(s, load);
      for (const t of this.threads.values()) if (t.state !== 'exiting') send(t, load);
    }
    return load.slot;
  }

  /** Starts a thread if the quota allows; it counts as a poller from now on. */
  private trySpawn(): boolean {
    if (!this.opts.admission.allows(this.holding)) return false;
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(8);
    const data: HandlerThreadData = { port: port2, signal };
    const worker = new Worker(this.workerUrl, { workerData: data, transferList: [port2] });
    const t: HandlerThread = {
      id: worker.threadId,
      worker,
      port: port1,
      signal: new Int32Array(signal),
      state: 'starting',
      busy: undefined,
      idleSince: 0,
      lastError: undefined,
    };
    this.threads.set(t.id, t);
    this.holding++;
    this.created++;
    this.numPollers++;
    if (this.threads.size > this.peak) this.peak = this.threads.size;
    // A new thread learns every loaded version before its first request.
    for (const msg of this.loaded.values()) send(t, msg);
    // Only a working thread keeps the process alive (its reply comes on the port).
    worker.unref();
    port1.unref();
    worker.once('online', () => {
      if (t.state !== 'starting') return;
      t.state = 'polling';
      t.idleSince = performance.now();
      this.polling.unshift(t); // started because work was waiting
      this.pump();
      if (this.numPollers > this.maxPollers) this.scheduleReap();
    });
    port1.on('message', (reply: Uint8Array) => this.onReply(t, reply));
    port1.on('messageerror', (e) => this.fail(t, `a reply could not be read: ${e.message}`));
    worker.on('error', (e) => (t.lastError = e.message));
    this.exits.add(
      new Promise<void>((resolve) => {
        worker.once('exit', (code) => {
          this.onExit(t, code);
          resolve();
        });
      }),
    );
    return true;
  }

  /** Polling threads pick up queued requests. */
  private pump(): void {
    while (this.cq.length > 0 && this.polling.length > 0) {
      this.pickUp(this.polling.shift()!, this.cq.shift()!);
    }
  }

  private pickUp(t: HandlerThread, job: Job): void {
    this.numPollers--;
    if (this.numPollers <= this.maxPollers) this.lastFull = performance.now();
    if (this.numPollers < this.minPollers && !this.trySpawn() && this.numPollers === 0) {
      // Upstream answers this request RESOURCE_EXHAUSTED and keeps the thread polling.
      job.reject(this.opts.admission.refusal());
      this.afterWork(t);
      return;
    }
    t.state = 'working';
    t.busy = job;
    t.worker.ref();
    // The request's buffer is its own (encodeRequest): moved, not copied.
    send(t, job.bytes, [job.bytes.buffer as ArrayBuffer]);
  }

  /** Back to polling (most recently idle first); past the maximum pollers, surplus leaves (see scheduleReap). */
  private afterWork(t: HandlerThread): void {
    if (this.closed || t.state === 'exiting') return;
    t.state = 'polling';
    t.idleSince = performance.now();
    this.numPollers++;
    this.polling.unshift(t);
    if (this.numPollers > this.maxPollers) {
      // Upstream: this thread exits now. With a grace, surplus pollers exit once the pool has
      // had surplus for that long (load that keeps needing them keeps them), the longest idle
      // first.
      if ((this.opts.idleGraceMs ?? 0) <= 0) this.retire(t);
      else this.scheduleReap();
    }
    this.pump();
  }

  /** Arms the reaper for when the pool and its longest-idle poller will have had the grace. */
  private scheduleReap(): void {
    if (this.reaper || this.closed || this.polling.length === 0) return;
    const grace = this.opts.idleGraceMs ?? 0;
    const oldest = this.polling[this.polling.length - 1]!;
    this.reaper = setTimeout(
      () => this.reap(),
      Math.max(0, Math.max(this.lastFull, oldest.idleSince) + grace - performance.now()),
    );
    this.reaper.unref();
  }

  private reap(): void {
    this.reaper = undefined;
    const since = performance.now() - (this.opts.idleGraceMs ?? 0);
    if (this.lastFull <= since) {
      while (this.numPollers > this.maxPollers && this.polling.length > 0) {
        const oldest = this.polling[this.polling.length - 1]!;
        if (oldest.idleSince > since) break;
        this.retire(oldest);
      }
    }
    if (this.numPollers > this.maxPollers) this.scheduleReap();
  }

  private onReply(t: HandlerThread, bytes: Uint8Array): void {
    const p = t.busy;
    t.busy = undefined;
    t.worker.unref();
    // Back to the pool first, so the stats are settled when the caller sees the answer.
    this.afterWork(t);
    if (!p) return;
    const reply = decodeReply(bytes);
    if (reply.ok) {
      const out: Record<string, HostTensor> = {};
      for (const o of reply.outputs) out[p.outputs[o.index]!.name] = { dtype: o.dtype, dims: o.dims, data: o.data };
      p.resolve(out);
    } else {
      p.reject(new LsError('LS_ERR_INFERENCE', `onnxruntime failed to run the model: ${reply.message}`));
    }
  }

  private fail(t: HandlerThread, why: string): void {
    const p = t.busy;
    t.busy = undefined;
    this.retire(t);
    p?.reject(new LsError('LS_ERR_INFERENCE', `handler thread ${t.id}: ${why}`));
  }

  private retire(t: HandlerThread): void {
    if (t.state === 'exiting') return;
    if (t.state === 'starting' || t.state === 'polling') {
      const i = this.polling.indexOf(t);
      if (i >= 0) this.polling.splice(i, 1);
      this.numPollers--;
    }
    t.state = 'exiting';
    this.holding--;
    // Ask the thread to end itself: terminating it while onnxruntime still loads a session
    // or runs aborts the whole process (a native exception with no isolate left to take it).
    // terminate() only if it does not end on its own.
    const exit: ThreadControl = { type: 'exit' };
    send(t, exit);
    t.worker.ref();
    const force = setTimeout(() => void t.worker.terminate(), 10_000);
    force.unref();
    t.worker.once('exit', () => clearTimeout(force));
  }

  private onExit(t: HandlerThread, code: number): void {
    this.threads.delete(t.id);
    t.port.close();
    if (t.state !== 'exiting') {
      // Died on its own: give back its quota and its poller place.
      this.retire(t);
    }
    this.exited++;
    const p = t.busy;
    t.busy = undefined;
    if (p) {
      if (this.closed)
        p.reject(new LsError('LS_ERR_SHUTTING_DOWN', 'the server shut down while the request was running'));
      else
        p.reject(
          new LsError(
            'LS_ERR_INFERENCE',
            `handler thread ${t.id} died while running the request (exit code ${code}${t.lastError ? `: ${t.lastError}` : ''})`,
          ),
        );
    }
    // Requests still queued need a poller.
    if (!this.closed && this.cq.length > 0 && this.numPollers === 0) {
      if (!this.trySpawn()) for (const j of this.cq.splice(0)) j.reject(this.opts.admission.refusal());
    }
  }
}

/** Queues a message on a thread's channel and wakes the thread if it is blocked on it. */
function send(t: HandlerThread, msg: Uint8Array | ThreadControl, transfer?: ArrayBuffer[]): void {
  t.port.postMessage(msg, transfer);
  bump(t);
}

function bump(t: HandlerThread): void {
  Atomics.add(t.signal, SIGNAL_SEQ, 1);
  Atomics.notify(t.signal, SIGNAL_SEQ, 1);
}
