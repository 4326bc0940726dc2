/**
 * One handler thread (worker_threads): runs Predict on its own onnxruntime sessions, one
 * per model version, loaded ahead of use (or on first use) and dropped when the main
 * thread says the version is unloaded. A request runs synchronously, start to answer, on
 * onnxruntime's native session (ort-direct.ts), and service time (`delayMs`) is spent
 * blocking this thread, as a stalled sync gRPC handler would. Requests and replies are the
 * binary messages of thread-wire.ts.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { ThreadControl } from './handler-threads.js';
import { DirectSession } from './ort-direct.js';
import { ORT_SESSION_OPTIONS } from './repository.js';
import { decodeRequest, encodeReply, type WireReply, type WireTensor } from './thread-wire.js';
import type { TensorData } from './tensors.js';

const port = parentPort;
if (!port) throw new Error('handler-thread-worker must run as a worker thread');

interface Version {
  readonly path: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  session: DirectSession | undefined;
}

const versions = new Map<number, Version>();
const blocker = new Int32Array(new SharedArrayBuffer(4));

/**
 * The version's session, loaded on first need. Loading blocks this thread (messages wait
 * behind it, an exit too, so the thread never ends inside a native load). A failed load is
 * not kept: the next request retries and reports its error.
 */
function sessionOf(v: Version): DirectSession {
  v.session ??= DirectSession.load(v.path, { ...ORT_SESSION_OPTIONS });
  return v.session;
}

function run(bytes: Uint8Array): Uint8Array {
  let reply: WireReply;
  const req = decodeRequest(bytes);
  try {
    const v = versions.get(req.slot);
    if (!v) throw new Error(`model version slot ${req.slot} is not loaded in this thread (unloaded meanwhile?)`);
    const session = sessionOf(v);
    if (req.delayMs > 0) Atomics.wait(blocker, 0, 0, req.delayMs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of req.feeds) feeds[v.inputs[f.index]!] = new ort.Tensor(f.dtype, f.data as never, f.dims as number[]);
    const names = req.fetches.map((i) => v.outputs[i]!);
    const out = session.run(feeds, names);
    const outputs: WireTensor[] = req.fetches.map((index, k) => {
      const o = out[names[k]!]!;
      return { index, dtype: o.type as WireTensor['dtype'], dims: o.dims, data: o.data as TensorData };
    });
    reply = { id: req.id, ok: true, outputs };
  } catch (e) {
    reply = { id: req.id, ok: false, message: (e as Error)?.message ?? String(e) };
  }
  return encodeReply(reply);
}

/** Releases every session and ends the thread (nothing runs meanwhile: runs are synchronous). */
function exit(): void {
  for (const v of versions.values()) v.session?.release();
  versions.clear();
  port!.close();
  process.exit(0);
}

port.on('message', (msg: Uint8Array | ThreadControl) => {
  if (msg instanceof Uint8Array) {
    port.postMessage(run(msg));
    return;
  }
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
    case 'exit':
      exit();
      break;
    case 'drop': {
      const v = versions.get(msg.slot);
      versions.delete(msg.slot);
      v?.session?.release();
      break;
    }
  }
});
