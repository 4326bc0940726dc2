/**
 * The body of a handler thread (worker_threads), shaped as a gRPC sync-server thread: it
 * blocks on its completion-queue slot (a futex, Atomics.wait) until the main thread hands
 * it work, runs the request synchronously start to answer on onnxruntime's native session
 * (ort-direct.ts), answers, and blocks again. Service time (`delayMs`) is spent blocking
 * the thread, as a stalled sync handler would.
 *
 * Work and control arrive in order on the thread's own MessagePort and are taken with
 * `receiveMessageOnPort`, so a request costs no event-loop turn and no message event; the
 * main thread bumps the signal word after each post. The thread still returns to its event
 * loop when idle for a while or when asked to (a heap snapshot of the thread needs it).
 * Sessions, one per model version, load when announced ("load"), block the thread meanwhile
 * (an exit waits behind them) and go on "drop".
 */
import { receiveMessageOnPort } from 'node:worker_threads';
import { DirectSession } from './ort-direct.js';
import { ORT_SESSION_OPTIONS } from './ort-options.js';
import {
  decodeRequest,
  encodeReply,
  SIGNAL_SEQ,
  SIGNAL_YIELD,
  type HandlerThreadData,
  type ThreadControl,
  type WireReply,
  type WireRequest,
  type WireTensor,
} from './thread-wire.js';
import type { TensorData } from '../wire/tensors.js';

/** Idle this long, the thread gives its event loop a turn (heap snapshots, timers). */
const IDLE_TURN_MS = 1000;

export interface HandlerThreadHooks {
  /** Sees each request before it runs (tests use it to end the thread mid-request). */
  beforeRun?(req: WireRequest): void;
}

interface Version {
  readonly path: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  session: DirectSession | undefined;
}

/** Serves requests until told to exit. Call once, from the worker's entry module. */
export function serveHandlerThread(data: HandlerThreadData, hooks: HandlerThreadHooks = {}): void {
  const { port } = data;
  const signal = new Int32Array(data.signal);
  const versions = new Map<number, Version>();
  const blocker = new Int32Array(new SharedArrayBuffer(4));

  /** The version's session, loaded on first need; a failed load is retried by the next request. */
  const sessionOf = (v: Version): DirectSession =>
    (v.session ??= DirectSession.load(v.path, { ...ORT_SESSION_OPTIONS }));

  const run = (bytes: Uint8Array): Uint8Array => {
    const req = decodeRequest(bytes);
    hooks.beforeRun?.(req);
    let reply: WireReply;
    try {
      const v = versions.get(req.slot);
      if (!v) throw new Error(`model version slot ${req.slot} is not loaded in this thread (unloaded meanwhile?)`);
      const session = sessionOf(v);
      if (req.delayMs > 0) Atomics.wait(blocker, 0, 0, req.delayMs);
      // Plain tensor records: the native session reads location, type, dims and data.
      const feeds: Record<string, { location: 'cpu'; type: string; dims: readonly number[]; data: TensorData }> = {};
      for (const f of req.feeds)
        feeds[v.inputs[f.index]!] = { location: 'cpu', type: f.dtype, dims: f.dims, data: f.data };
      const names = req.fetches.map((i) => v.outputs[i]!);
      const out = session.run(feeds as never, names);
      const outputs: WireTensor[] = req.fetches.map((index, k) => {
        const o = out[names[k]!]!;
        return { index, dtype: o.type as WireTensor['dtype'], dims: o.dims, data: o.data as TensorData };
      });
      reply = { id: req.id, ok: true, outputs };
    } catch (e) {
      reply = { id: req.id, ok: false, message: (e as Error)?.message ?? String(e) };
    }
    return encodeReply(reply);
  };

  const exit = (): never => {
    for (const v of versions.values()) v.session?.release();
    versions.clear();
    port.close();
    process.exit(0);
  };

  const control = (msg: ThreadControl): void => {
    switch (msg.type) {
      case 'load': {
        const v: Version = { path: msg.path, inputs: msg.inputs, outputs: msg.outputs, session: undefined };
        versions.set(msg.slot, v);
        try {
          sessionOf(v);
        } catch {
          // Reported by the first request that needs the session.
        }
        break;
      }
      case 'drop': {
        const v = versions.get(msg.slot);
        versions.delete(msg.slot);
        v?.session?.release();
        break;
      }
      case 'exit':
        exit();
    }
  };

  const serve = (): void => {
    for (;;) {
      // Read the signal before the queue: a post after this read bumps it, so the wait below
      // returns at once instead of sleeping on a message already queued.
      const seq = Atomics.load(signal, SIGNAL_SEQ);
      const m = receiveMessageOnPort(port);
      if (m) {
        const msg = m.message as Uint8Array | ThreadControl;
        if (msg instanceof Uint8Array) {
          const reply = run(msg);
          port.postMessage(reply, [reply.buffer as ArrayBuffer]);
        } else control(msg);
        continue;
      }
      if (Atomics.exchange(signal, SIGNAL_YIELD, 0) !== 0) break;
      if (Atomics.wait(signal, SIGNAL_SEQ, seq, IDLE_TURN_MS) === 'timed-out') break;
    }
    // An event-loop turn, then back to the queue.
    setImmediate(serve);
  };
  serve();
}
