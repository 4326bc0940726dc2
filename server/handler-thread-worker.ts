/**
 * One handler thread (worker_threads): runs Predict on its own onnxruntime sessions, one
 * per model version, loaded ahead of use (or on first use) and dropped when the main
 * thread says the version is unloaded. Service time (`delayMs`) is spent blocking this
 * thread, as a stalled sync gRPC handler would. Requests and replies are the binary
 * messages of thread-wire.ts.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { ThreadControl } from './handler-threads.js';
import { ORT_SESSION_OPTIONS } from './repository.js';
import { decodeRequest, encodeReply, type WireReply, type WireTensor } from './thread-wire.js';
import type { TensorData } from './tensors.js';

const port = parentPort;
if (!port) throw new Error('handler-thread-worker must run as a worker thread');

interface Version {
  readonly path: string;
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  session: Promise<ort.InferenceSession> | undefined;
}

const versions = new Map<number, Version>();
/** Runs in progress: the thread ends only after they have answered. */
const running = new Set<Promise<void>>();

/** Waits for loads and runs in flight, releases every session, then ends the thread. */
async function exitWhenIdle(): Promise<void> {
  await Promise.allSettled([...running]);
  const sessions = [...versions.values()].map((v) => v.session).filter((s): s is Promise<ort.InferenceSession> => s !== undefined);
  versions.clear();
  await Promise.allSettled(sessions.map((s) => s.then((x) => x.release())));
  port!.close();
  process.exit(0);
}
const blocker = new Int32Array(new SharedArrayBuffer(4));

function sessionOf(v: Version): Promise<ort.InferenceSession> {
  if (!v.session) {
    const s = ort.InferenceSession.create(v.path, { ...ORT_SESSION_OPTIONS });
    // A failed load is not kept: the next request retries.
    s.catch(() => {
      if (v.session === s) v.session = undefined;
    });
    v.session = s;
  }
  return v.session;
}

async function run(bytes: Uint8Array): Promise<void> {
  let reply: WireReply;
  const req = decodeRequest(bytes);
  try {
    const v = versions.get(req.slot);
    if (!v) throw new Error(`model version slot ${req.slot} is not loaded in this thread (unloaded meanwhile?)`);
    const session = await sessionOf(v);
    if (req.delayMs > 0) Atomics.wait(blocker, 0, 0, req.delayMs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const f of req.feeds) feeds[v.inputs[f.index]!] = new ort.Tensor(f.dtype, f.data as never, f.dims as number[]);
    const names = req.fetches.map((i) => v.outputs[i]!);
    const out = await session.run(feeds, names);
    const outputs: WireTensor[] = req.fetches.map((index, k) => {
      const o = out[names[k]!] as ort.Tensor;
      return { index, dtype: o.type as WireTensor['dtype'], dims: o.dims, data: o.data as TensorData };
    });
    reply = { id: req.id, ok: true, outputs };
  } catch (e) {
    reply = { id: req.id, ok: false, message: (e as Error)?.message ?? String(e) };
  }
  port!.postMessage(encodeReply(reply));
}

port.on('message', (msg: Uint8Array | ThreadControl) => {
  if (msg instanceof Uint8Array) {
    const r = run(msg);
    running.add(r);
    void r.finally(() => running.delete(r));
    return;
  }
  switch (msg.type) {
    case 'load': {
      const v: Version = { path: msg.path, inputs: msg.inputs, outputs: msg.outputs, session: undefined };
      versions.set(msg.slot, v);
      // Errors surface on the first request that needs the session.
      sessionOf(v).catch(() => undefined);
      break;
    }
    case 'exit':
      void exitWhenIdle();
      break;
    case 'drop': {
      const v = versions.get(msg.slot);
      versions.delete(msg.slot);
      v?.session?.then((x) => x.release()).catch(() => undefined);
      break;
    }
  }
});
