/**
 * The binary messages between the main thread and the handler threads. Every Predict
 * crosses this hop twice, and structured-cloning objects and string arrays costs several
 * times more than one flat byte array (measured ~80 µs vs ~20 µs of main-thread CPU per
 * round trip), so a request is one Uint8Array: a header, the feed table, then the tensor
 * bytes 8-aligned, moved (transferred) rather than copied. Names travel once per model
 * version (a "load" message), as indices after that. Each thread has its own channel (a
 * MessagePort pair) and a pair of shared signal words it blocks on (handler-thread-loop.ts).
 *
 * Request:  u32 id · u32 slot · f64 delayMs · u16 nFeeds · u16 nFetches · u16[nFetches] output indices
 *           · per feed: u16 input index · u8 dtype (TF DataType) · u8 rank · u32 count · u32 offset · u32[rank] dims · data
 * Reply:    u32 id · u8 status (0 ok, 1 error) · ok: u16 nOut · per output: u16 output index · u8 dtype (TF DataType)
 *           · u8 rank · u32 count · u32 offset · u32[rank] dims · data  |  error: UTF-8 message
 */
import type { MessagePort } from 'node:worker_threads';
import { dtypeFromTf, tensorView, tfDtypeOf, type DType, type TensorData } from '../wire/tensors.js';

export interface WireTensor {
  /** Index into the version's input (request) or output (reply) names. */
  readonly index: number;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

const align8 = (n: number) => (n + 7) & ~7;

function tableSize(tensors: readonly { dims: readonly number[] }[]): number {
  return tensors.reduce((a, t) => a + 12 + 4 * t.dims.length, 0);
}

function writeTensors(view: DataView, bytes: Uint8Array, at: number, tensors: readonly WireTensor[]): void {
  let data = align8(at + tableSize(tensors));
  for (const t of tensors) {
    view.setUint16(at, t.index, true);
    view.setUint8(at + 2, tfDtypeOf(t.dtype));
    view.setUint8(at + 3, t.dims.length);
    view.setUint32(at + 4, t.data.length, true);
    view.setUint32(at + 8, data, true);
    at += 12;
    for (const d of t.dims) {
      view.setUint32(at, d, true);
      at += 4;
    }
    bytes.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), data);
    data = align8(data + t.data.byteLength);
  }
}

function readTensors(view: DataView, buffer: ArrayBufferLike, base: number, at: number, n: number): WireTensor[] {
  const out: WireTensor[] = [];
  for (let i = 0; i < n; i++) {
    const index = view.getUint16(at, true);
    const dtype = dtypeFromTf(view.getUint8(at + 2))!;
    const rank = view.getUint8(at + 3);
    const count = view.getUint32(at + 4, true);
    const offset = view.getUint32(at + 8, true);
    at += 12;
    const dims: number[] = [];
    for (let k = 0; k < rank; k++, at += 4) dims.push(view.getUint32(at, true));
    out.push({ index, dtype, dims, data: tensorView(dtype, buffer, base + offset, count) });
  }
  return out;
}

function dataSize(tensors: readonly WireTensor[], start: number): number {
  let data = align8(start + tableSize(tensors));
  for (const t of tensors) data = align8(data + t.data.byteLength);
  return data;
}

export interface WireRequest {
  readonly id: number;
  readonly slot: number;
  readonly delayMs: number;
  readonly fetches: readonly number[];
  readonly feeds: readonly WireTensor[];
}

/** Encodes a run request into one fresh Uint8Array (its buffer owned, offset 0). */
export function encodeRequest(r: WireRequest): Uint8Array {
  const head = align8(20 + 2 * r.fetches.length);
  const bytes = new Uint8Array(dataSize(r.feeds, head));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, r.id, true);
  view.setUint32(4, r.slot, true);
  view.setFloat64(8, r.delayMs, true);
  view.setUint16(16, r.feeds.length, true);
  view.setUint16(18, r.fetches.length, true);
  r.fetches.forEach((f, i) => view.setUint16(20 + 2 * i, f, true));
  writeTensors(view, bytes, head, r.feeds);
  return bytes;
}

/** Decodes a run request; tensor data views the message's own bytes (no copy). */
export function decodeRequest(bytes: Uint8Array): WireRequest {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const nFeeds = view.getUint16(16, true);
  const nFetches = view.getUint16(18, true);
  const fetches: number[] = [];
  for (let i = 0; i < nFetches; i++) fetches.push(view.getUint16(20 + 2 * i, true));
  const head = align8(20 + 2 * nFetches);
  return {
    id: view.getUint32(0, true),
    slot: view.getUint32(4, true),
    delayMs: view.getFloat64(8, true),
    fetches,
    feeds: readTensors(view, bytes.buffer, bytes.byteOffset, head, nFeeds),
  };
}

export type WireReply =
  | { readonly id: number; readonly ok: true; readonly outputs: readonly WireTensor[] }
  | { readonly id: number; readonly ok: false; readonly message: string };

export function encodeReply(r: WireReply): Uint8Array {
  if (!r.ok) {
    const msg = Buffer.from(r.message, 'utf8');
    const bytes = new Uint8Array(8 + msg.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, r.id, true);
    view.setUint8(4, 1);
    bytes.set(msg, 8);
    return bytes;
  }
  const bytes = new Uint8Array(dataSize(r.outputs, 8));
  const view = new DataView(bytes.buffer);
  view.setUint32(0, r.id, true);
  view.setUint8(4, 0);
  view.setUint16(6, r.outputs.length, true);
  writeTensors(view, bytes, 8, r.outputs);
  return bytes;
}

export function decodeReply(bytes: Uint8Array): WireReply {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const id = view.getUint32(0, true);
  if (view.getUint8(4) !== 0)
    return {
      id,
      ok: false,
      message: Buffer.from(bytes.buffer, bytes.byteOffset + 8, bytes.byteLength - 8).toString('utf8'),
    };
  return { id, ok: true, outputs: readTensors(view, bytes.buffer, bytes.byteOffset, 8, view.getUint16(6, true)) };
}

/**
 * Control messages (rare, structured-cloned), in order with the run requests on a thread's
 * channel: a model version's slot with its file and names, its removal, the end.
 */
export type ThreadControl =
  | {
      readonly type: 'load';
      readonly slot: number;
      readonly path: string;
      readonly inputs: readonly string[];
      readonly outputs: readonly string[];
    }
  | { readonly type: 'drop'; readonly slot: number }
  /** Release the sessions and end the thread (after what was queued before it). */
  | { readonly type: 'exit' };

/** What the main thread hands a handler thread (workerData). */
export interface HandlerThreadData {
  /** The thread's end of its channel: requests and control in, replies out. */
  readonly port: MessagePort;
  /** Int32 words: [SIGNAL_SEQ] bumped after every post, [SIGNAL_YIELD] set to ask for an event-loop turn. */
  readonly signal: SharedArrayBuffer;
}

/** Signal word bumped (and notified) after every post to the thread. */
export const SIGNAL_SEQ = 0;
/** Signal word set to ask the thread for an event-loop turn. */
export const SIGNAL_YIELD = 1;
