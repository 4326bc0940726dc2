/**
 * One handler thread (worker_threads): runs Predict on its own onnxruntime sessions, one
 * per model file, loaded lazily and dropped when the main thread says the version is
 * unloaded. Service time (`delayMs`) is spent blocking this thread, as a stalled sync
 * gRPC handler would; tensors travel as transferred buffers, never as JSON.
 */
import { parentPort } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import type { PackedFeeds, ThreadRequest, ThreadReply, WireTensor } from './handler-threads.js';
import { ORT_SESSION_OPTIONS } from './repository.js';
import type { DType, TensorData } from './tensors.js';

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

type ArrayCtor = new (buffer: ArrayBuffer, byteOffset: number, length: number) => TensorData;
const ARRAYS: Record<DType, ArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  int32: Int32Array,
  int64: BigInt64Array,
  int16: Int16Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
  float16: Uint16Array,
};

/** onnxruntime tensors viewing the packed buffer (no copy). */
function unpack(p: PackedFeeds): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  let d = 0;
  p.names.forEach((name, i) => {
    const dims = p.dims.slice(d, d + p.ranks[i]!);
    d += p.ranks[i]!;
    const data = new ARRAYS[p.dtypes[i]!](p.buffer, p.offsets[i]!, p.counts[i]!);
    feeds[name] = new ort.Tensor(p.dtypes[i]!, data as never, dims);
  });
  return feeds;
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
    const out = await session.run(unpack(msg.feeds), msg.fetches as string[]);
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
    case 'load':
      // Errors surface on the first request that needs the session.
      sessionFor(msg.key, msg.path).catch(() => undefined);
      break;
    case 'drop': {
      const s = sessions.get(msg.key);
      sessions.delete(msg.key);
      s?.then((x) => x.release()).catch(() => undefined);
      break;
    }
  }
});
