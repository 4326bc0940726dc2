/**
 * One handler thread (worker_threads): runs Predict on its own onnxruntime sessions, one
 * per model file, loaded lazily and dropped when the main thread says the version is
 * unloaded. Service time (`delayMs`) is spent blocking this thread, as a stalled sync
 * gRPC handler would; tensors travel as transferred buffers, never as JSON.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { ThreadRequest, ThreadReply, WireTensor } from './handler-threads.js';
import { ORT_SESSION_OPTIONS } from './repository.js';

const port = parentPort;
if (!port) throw new Error('handler-thread-worker must run as a worker thread');

const sessions = new Map<string, Promise<ort.InferenceSession>>();
const blocker = new Int32Array(new SharedArrayBuffer(4));

function sessionFor(key: string, path: string): Promise<ort.InferenceSession> {
  let s = sessions.get(key);
  if (!s) {
    s = ort.InferenceSession.create(path, { ...ORT_SESSION_OPTIONS });
    // A failed load is not cached: the next request retries.
    s.catch(() => sessions.delete(key));
    sessions.set(key, s);
  }
  return s;
}

/** A typed array that owns its whole buffer, so the buffer can be transferred. */
function owned(data: WireTensor['data']): WireTensor['data'] {
  return data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && !(data.buffer instanceof SharedArrayBuffer) ? data : data.slice();
}

async function run(msg: Extract<ThreadRequest, { type: 'run' }>): Promise<void> {
  let reply: ThreadReply;
  const transfer: ArrayBuffer[] = [];
  try {
    const session = await sessionFor(msg.key, msg.path);
    if (msg.delayMs > 0) Atomics.wait(blocker, 0, 0, msg.delayMs);
    const feeds: Record<string, ort.Tensor> = {};
    for (const t of msg.feeds) feeds[t.name] = new ort.Tensor(t.dtype, t.data as never, t.dims as number[]);
    const out = await session.run(feeds, msg.fetches as string[]);
    const outputs: WireTensor[] = msg.fetches.map((name) => {
      const o = out[name] as ort.Tensor;
      const data = owned(o.data as WireTensor['data']);
      transfer.push(data.buffer as ArrayBuffer);
      return { name, dtype: o.type as WireTensor['dtype'], dims: [...o.dims], data };
    });
    reply = { type: 'result', id: msg.id, outputs };
  } catch (e) {
    transfer.length = 0;
    reply = { type: 'error', id: msg.id, message: (e as Error)?.message ?? String(e) };
  }
  port!.postMessage(reply, transfer);
}

port.on('message', (msg: ThreadRequest) => {
  switch (msg.type) {
    case 'run':
      void run(msg);
      break;
    case 'drop': {
      const s = sessions.get(msg.key);
      sessions.delete(msg.key);
      s?.then((x) => x.release()).catch(() => undefined);
      break;
    }
  }
});
