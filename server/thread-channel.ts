/**
 * The main thread's end of the handler-thread wire (thread-wire.ts is the format): one
 * worker_thread with its MessagePort and signal words, the model versions announced to every
 * thread by slot, and a Predict turned into one request message and its reply back into
 * named tensors. Requests and replies are moved (transferred), never copied; every post
 * bumps the thread's signal word, which it blocks on (handler-thread-loop.ts).
 */
import type { Readable } from 'node:stream';
import { MessageChannel, type MessagePort, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { LsError } from '../common/errors.js';
import type { Servable } from './repository.js';
import type { TensorSpec } from './signature.js';
import type { HostTensor } from '../wire/tensors.js';
import {
  decodeReply,
  type HandlerThreadData,
  SIGNAL_SEQ,
  SIGNAL_YIELD,
  type ThreadControl,
  type WireRequest,
} from './thread-wire.js';
import type { PoolJob, PoolThread, ThreadEvents } from './thread-pool.js';
import type { BootPriority } from './thread-priority.js';
import { handlerThreadEnv } from './worker-env.js';

/** A Predict on its way to a thread: the request message, and how to answer the caller. */
export interface WireJob extends PoolJob {
  /** The request message (its buffer its own: moved to the thread, not copied). */
  readonly bytes: Uint8Array;
  resolve(out: Record<string, HostTensor>): void;
  /** The version's outputs; replies name them by index. */
  readonly outputs: readonly TensorSpec[];
}

type LoadMessage = Extract<ThreadControl, { type: 'load' }>;
/** Whatever a version is announced to (the threads; a recorder in tests). */
type Listener = Pick<WorkerThread, 'send'>;

/**
 * A Predict's inputs and outputs by their index in the version's signature, so names never
 * cross the wire per request; a name the version does not have is LS_ERR_INFERENCE.
 */
export function byIndex(
  servable: Servable,
  feeds: Readonly<Record<string, HostTensor>>,
  fetches: readonly string[],
): Pick<WireRequest, 'feeds' | 'fetches'> {
  const { inputIndex, outputIndex } = servable.signature;
  return {
    fetches: fetches.map((f) => {
      const i = outputIndex.get(f);
      if (i === undefined)
        throw new LsError('LS_ERR_INFERENCE', `output '${f}' is not an output of model '${servable.model}'`);
      return i;
    }),
    feeds: Object.keys(feeds).map((name) => {
      const index = inputIndex.get(name);
      if (index === undefined)
        throw new LsError('LS_ERR_INFERENCE', `input '${name}' is not an input of model '${servable.model}'`);
      const t = feeds[name]!;
      return { index, dtype: t.dtype, dims: t.dims, data: t.data };
    }),
  };
}

/** Answers a job's caller from its thread's reply: named outputs, or LS_ERR_INFERENCE. */
export function settle(job: WireJob, bytes: Uint8Array): void {
  const reply = decodeReply(bytes);
  if (reply.ok) {
    const out: Record<string, HostTensor> = {};
    for (const o of reply.outputs) out[job.outputs[o.index]!.name] = { dtype: o.dtype, dims: o.dims, data: o.data };
    job.resolve(out);
  } else {
    job.reject(new LsError('LS_ERR_INFERENCE', `onnxruntime failed to run the model: ${reply.message}`));
  }
}

/** The model versions every thread holds a session of, by slot (names travel once, here). */
export class VersionSlots {
  /** Each registered version's load message (its slot inside), replayed to every new thread. */
  private readonly loaded = new Map<Servable, LoadMessage>();
  private seq = 0;

  /** The slot of a version: registered, and announced to `threads`, on first use. */
  slotOf(s: Servable, threads: Iterable<Listener>): number {
    let load = this.loaded.get(s);
    if (!load) {
      load = {
        type: 'load',
        slot: ++this.seq,
        path: s.path,
        inputs: s.signature.inputs.map((x) => x.name),
        outputs: s.signature.outputs.map((x) => x.name),
      };
      this.loaded.set(s, load);
      for (const t of threads) t.send(load);
    }
    return load.slot;
  }

  /** Forgets a version and has `threads` drop its session. */
  drop(s: Servable, threads: Iterable<Listener>): void {
    const load = this.loaded.get(s);
    if (!load) return;
    this.loaded.delete(s);
    const msg: ThreadControl = { type: 'drop', slot: load.slot };
    for (const t of threads) t.send(msg);
  }

  /** Every registered version's load message, for a new thread. */
  loads(): Iterable<LoadMessage> {
    return this.loaded.values();
  }
}

/** One handler thread: a worker_thread, its channel and signal words. */
export class WorkerThread implements PoolThread<WireJob> {
  readonly id: number;
  private readonly worker: Worker;
  /** The main thread's end of the thread's channel. */
  private readonly port: MessagePort;
  /** The thread's signal words (handler-thread-loop.ts). */
  private readonly signal: Int32Array;
  private lastError: string | undefined;
  /** Settles the thread's request from its reply, and hands the thread back to the pool. */
  private readonly answered: (reply: Uint8Array) => void;
  /** Its OS thread id while it boots in the background (lowered by `priority`), else undefined. */
  private lowered: number | undefined;

  /**
   * Starts the thread; it learns `loads` before its first request. With `background`, it boots
   * at the lowest priority (if its OS thread can be found and lowered) until foreground().
   */
  constructor(
    url: URL,
    loads: Iterable<ThreadControl>,
    events: ThreadEvents<WireJob>,
    private readonly priority?: BootPriority,
  ) {
    const { port1, port2 } = new MessageChannel();
    const signal = new SharedArrayBuffer(8);
    const data: HandlerThreadData = { port: port2, signal };
    // Without NODE_OPTIONS' preloads: a profiler's sampler runs once, in the main thread (worker-env.ts).
    const create = () => new Worker(url, { workerData: data, transferList: [port2], env: handlerThreadEnv() });
    if (priority) {
      const { value, tid } = priority.lowered(create);
      this.worker = value;
      this.lowered = tid;
    } else this.worker = create();
    this.id = this.worker.threadId;
    this.port = port1;
    this.signal = new Int32Array(signal);
    for (const msg of loads) this.send(msg);
    // Only a working thread keeps the process alive (its reply comes on the port).
    this.worker.unref();
    port1.unref();
    this.worker.once('online', () => events.online());
    this.answered = (reply) => {
      this.worker.unref();
      const job = events.done();
      if (job) settle(job, reply);
    };
    port1.on('message', this.answered);
    port1.on('messageerror', (e) => events.broken(`a reply could not be read: ${e.message}`));
    this.worker.on('error', (e) => {
      this.lastError = e.message;
    });
    this.worker.once('exit', (code) => {
      port1.close();
      events.exited(code, this.lastError);
    });
  }

  run(job: WireJob): void {
    this.worker.ref();
    // The request's buffer is its own (encodeRequest): moved, not copied.
    this.send(job.bytes, [job.bytes.buffer as ArrayBuffer]);
  }

  get background(): boolean {
    return this.lowered !== undefined;
  }

  foreground(): void {
    if (this.lowered === undefined) return;
    this.priority!.restore(this.lowered);
    this.lowered = undefined;
  }

  /** Reads a reply the thread has posted and the event loop has not delivered yet (the pool's collect). */
  collect(): boolean {
    const m = receiveMessageOnPort(this.port);
    if (!m) return false;
    this.answered(m.message as Uint8Array);
    return true;
  }

  exit(): void {
    // Ask the thread to end itself: terminating it while onnxruntime still loads a session
    // or runs aborts the whole process (a native exception with no isolate left to take it).
    // terminate() only if it does not end on its own.
    this.send({ type: 'exit' });
    this.worker.ref();
    const force = setTimeout(() => void this.worker.terminate(), 10_000);
    force.unref();
    this.worker.once('exit', () => clearTimeout(force));
  }

  /**
   * A heap snapshot of the thread's isolate, as a stream. A thread blocked in its service
   * time answers once the block ends.
   */
  heapSnapshot(): Promise<Readable> {
    const snapshot = this.worker.getHeapSnapshot();
    // An idle thread blocks on its queue; the snapshot is taken on its next event-loop turn.
    Atomics.store(this.signal, SIGNAL_YIELD, 1);
    this.bump();
    return snapshot;
  }

  /** Queues a message on the thread's channel and wakes the thread if it is blocked on it. */
  send(msg: Uint8Array | ThreadControl, transfer?: ArrayBuffer[]): void {
    this.port.postMessage(msg, transfer);
    this.bump();
  }

  private bump(): void {
    Atomics.add(this.signal, SIGNAL_SEQ, 1);
    Atomics.notify(this.signal, SIGNAL_SEQ, 1);
  }
}
