/**
 * The handler-thread wire without threads: a Predict to one request message and back, the
 * reply to named outputs, and the model versions announced by slot.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LsError } from '../../common/errors.js';
import type { Servable } from '../../server/repository.js';
import { signatureOf } from '../../server/signature.js';
import type { HostTensor } from '../../wire/tensors.js';
import { byIndex, settle, VersionSlots, type WireJob } from '../../server/thread-channel.js';
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  type ThreadControl,
} from '../../server/thread-wire.js';

const meta = (name: string, type: string) => ({ name, isTensor: true, type, shape: [-1, 1] }) as never;

/** A version with three inputs and two outputs (no session: the wire never touches it). */
const servable = (model = 'ctr', path = '/models/ctr/1/model.onnx'): Servable => ({
  model,
  version: 1,
  path,
  signature: signatureOf({
    inputMetadata: [meta('age', 'float32'), meta('clicks', 'int64'), meta('flag', 'bool')],
    outputMetadata: [meta('prob', 'float32'), meta('logit', 'float32')],
  }),
  session: undefined as never,
});

const feeds = (): Record<string, HostTensor> => ({
  // Odd byte lengths first, so the int64 data after them must be re-aligned to 8.
  flag: { dtype: 'bool', dims: [3, 1], data: Uint8Array.of(1, 0, 1) },
  clicks: { dtype: 'int64', dims: [3, 1], data: BigInt64Array.of(7n, -1n, 2n ** 40n) },
  age: { dtype: 'float32', dims: [3, 1], data: Float32Array.of(0.5, 1.5, -2) },
});

describe('thread wire: requests', () => {
  it('a Predict becomes one message with inputs and outputs by index, and decodes to views of its own bytes', () => {
    const named = byIndex(servable(), feeds(), ['logit', 'prob']);
    assert.deepEqual(named.fetches, [1, 0]);
    assert.deepEqual(
      named.feeds.map((f) => f.index),
      [2, 1, 0],
      'in the caller order, by signature index',
    );
    const bytes = encodeRequest({ id: 41, slot: 3, delayMs: 2.5, ...named });
    assert.equal(bytes.byteOffset, 0);
    assert.equal(
      bytes.buffer.byteLength,
      bytes.byteLength,
      'the buffer is the message alone: moving it moves nothing else',
    );
    const req = decodeRequest(bytes);
    assert.deepEqual([req.id, req.slot, req.delayMs, req.fetches], [41, 3, 2.5, [1, 0]]);
    const want = feeds();
    for (const f of req.feeds) {
      assert.equal(f.data.buffer, bytes.buffer, 'a view of the message, not a copy');
      assert.equal(f.data.byteOffset % 8, 0, `feed ${f.index} data is 8-aligned`);
    }
    assert.deepEqual(
      req.feeds.map((f) => ({ dtype: f.dtype, dims: f.dims, data: [...f.data] })),
      [want.flag!, want.clicks!, want.age!].map((t) => ({ dtype: t.dtype, dims: t.dims, data: [...t.data] })),
    );
  });

  it("a name the version does not have is LS_ERR_INFERENCE naming it and the model; the caller's buffers are untouched", () => {
    const f = feeds();
    assert.throws(
      () => byIndex(servable(), f, ['prob', 'score']),
      (e: unknown) =>
        e instanceof LsError &&
        e.code === 'LS_ERR_INFERENCE' &&
        e.message === "output 'score' is not an output of model 'ctr'",
    );
    f.height = { dtype: 'float32', dims: [1], data: Float32Array.of(1) };
    assert.throws(
      () => byIndex(servable('ranker'), f, ['prob']),
      (e: unknown) => e instanceof LsError && e.message === "input 'height' is not an input of model 'ranker'",
    );
    const mine = feeds();
    const bytes = encodeRequest({ id: 1, slot: 1, delayMs: 0, ...byIndex(servable(), mine, ['prob']) });
    structuredClone(bytes, { transfer: [bytes.buffer as ArrayBuffer] }); // as postMessage moves it
    assert.equal(bytes.byteLength, 0, 'the message was moved');
    assert.deepEqual([...mine.age!.data], [0.5, 1.5, -2], "moving the message leaves the caller's tensors whole");
  });
});

describe('thread wire: replies', () => {
  const job = () => {
    const j = {
      bytes: new Uint8Array(0),
      outputs: servable().signature.outputs,
      out: undefined as Record<string, HostTensor> | undefined,
      error: undefined as Error | undefined,
      resolve(o: Record<string, HostTensor>) {
        j.out = o;
      },
      reject(e: Error) {
        j.error = e;
      },
    };
    return j satisfies WireJob;
  };

  it('outputs come back named by the version’s signature, in the order asked', () => {
    const j = job();
    settle(
      j,
      encodeReply({
        id: 9,
        ok: true,
        outputs: [
          { index: 1, dtype: 'float32', dims: [2, 1], data: Float32Array.of(-3, 4) },
          { index: 0, dtype: 'float32', dims: [2, 1], data: Float32Array.of(0.25, 0.75) },
        ],
      }),
    );
    assert.equal(j.error, undefined);
    assert.deepEqual(Object.keys(j.out!), ['logit', 'prob']);
    assert.deepEqual([...j.out!.prob!.data], [0.25, 0.75]);
    assert.deepEqual(j.out!.logit!.dims, [2, 1]);
  });

  it('a failed run is LS_ERR_INFERENCE with onnxruntime’s message, UTF-8 intact', () => {
    const j = job();
    const bytes = encodeReply({ id: 3, ok: false, message: "input 'âge' is missing in the feeds" });
    assert.deepEqual(decodeReply(bytes), { id: 3, ok: false, message: "input 'âge' is missing in the feeds" });
    settle(j, bytes);
    assert.equal(j.out, undefined);
    assert.ok(j.error instanceof LsError && j.error.code === 'LS_ERR_INFERENCE');
    assert.equal(j.error.message, "onnxruntime failed to run the model: input 'âge' is missing in the feeds");
  });
});

describe('thread wire: model versions by slot', () => {
  const recorder = () => {
    const got: ThreadControl[] = [];
    return { got, send: (m: ThreadControl | Uint8Array) => void got.push(m as ThreadControl) };
  };

  it('a version is announced once with its names, replayed to new threads, and dropped by slot', () => {
    const slots = new VersionSlots();
    const [t1, t2] = [recorder(), recorder()];
    const v1 = servable();
    const v2 = servable('ctr', '/models/ctr/2/model.onnx');
    assert.equal(slots.slotOf(v1, [t1]), 1);
    assert.equal(slots.slotOf(v1, [t1, t2]), 1, 'known: not announced again');
    assert.equal(slots.slotOf(v2, [t1, t2]), 2);
    assert.deepEqual(t1.got, [
      {
        type: 'load',
        slot: 1,
        path: '/models/ctr/1/model.onnx',
        inputs: ['age', 'clicks', 'flag'],
        outputs: ['prob', 'logit'],
      },
      {
        type: 'load',
        slot: 2,
        path: '/models/ctr/2/model.onnx',
        inputs: ['age', 'clicks', 'flag'],
        outputs: ['prob', 'logit'],
      },
    ]);
    assert.deepEqual(
      t2.got.map((m) => m.type === 'load' && m.slot),
      [2],
    );
    slots.drop(v1, [t1, t2]);
    slots.drop(v1, [t1, t2]);
    assert.deepEqual(t2.got.at(-1), { type: 'drop', slot: 1 });
    assert.equal(t2.got.length, 2, 'dropped once');
    assert.deepEqual(
      [...slots.loads()].map((m) => m.slot),
      [2],
      'a new thread learns only what is still loaded',
    );
    assert.equal(slots.slotOf(v1, []), 3, 'a version loaded again gets a new slot');
  });
});
