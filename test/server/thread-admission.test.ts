import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LsError } from '../../common/errors.js';
import { resolveFixes } from '../../common/fixes.js';
import { cappedAdmission, threadAdmission, UNCAPPED_ADMISSION } from '../../server/thread-admission.js';

const exhausted = (cap: number) => (e: unknown) =>
  e instanceof LsError && e.code === 'LS_ERR_THREADS_EXHAUSTED' && e.message.includes(`--grpc_max_threads ${cap}`);

describe('thread admission strategies', () => {
  it('uncapped admits any count; capped refuses thread N+1 with THREADS_EXHAUSTED naming the cap', () => {
    assert.equal(UNCAPPED_ADMISSION.allows(1_000_000), true);
    const cap = cappedAdmission(3);
    assert.equal(cap.allows(2), true);
    assert.equal(cap.allows(3), false);
    assert.ok(exhausted(3)(cap.refusal()), cap.refusal().message);
    assert.equal(UNCAPPED_ADMISSION.refusal().code, 'LS_ERR_THREADS_EXHAUSTED');
    assert.equal(threadAdmission(resolveFixes('leaky'), 5).cap, null);
    assert.equal(threadAdmission(resolveFixes('patched'), 5).cap, 5);
    assert.equal(threadAdmission(resolveFixes(undefined, 'sort-inputs'), 5).cap, null);
    assert.throws(() => cappedAdmission(0), /grpc_max_threads/);
    assert.throws(() => cappedAdmission(2.5), /--grpc_max_threads: expected an integer ≥ 1, got 2.5/);
  });

  it('the queue bound: capped lets at most `cap` requests wait for a thread; uncapped queues without bound', () => {
    const cap = cappedAdmission(4);
    assert.equal(cap.queues(0), true);
    assert.equal(cap.queues(3), true);
    assert.equal(cap.queues(4), false);
    assert.equal(cap.queues(100), false);
    assert.equal(UNCAPPED_ADMISSION.queues(1_000_000), true);
  });

  it('is frozen: a strategy chosen at start-up cannot be changed afterwards', () => {
    const cap = cappedAdmission(2);
    assert.ok(Object.isFrozen(cap) && Object.isFrozen(UNCAPPED_ADMISSION));
    assert.throws(() => {
      (cap as { cap: number | null }).cap = null;
    }, TypeError);
  });
});
