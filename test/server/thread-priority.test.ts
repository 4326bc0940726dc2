/**
 * Background boots' priority strategy (thread-priority.ts): who may raise a thread back, and
 * on this machine, if the process may, a real worker_thread lowered at creation and raised back.
 */
import assert from 'node:assert/strict';
import { getPriority } from 'node:os';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { backgroundBoots, mayRaiseTo } from '../../server/thread-priority.js';

const limits = (nice: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\nMax nice priority         ${nice}                    ${nice}\n`;

describe('thread priority: the right to raise a thread back', () => {
  it('CAP_SYS_NICE (bit 23 of CapEff) allows any value', () => {
    assert.equal(mayRaiseTo(-5, 'CapEff:\t0000000000800000\n', limits('0')), true);
    assert.equal(mayRaiseTo(0, 'CapEff:\t000001fffeffffff\n', limits('0')), true);
  });

  it('without it, RLIMIT_NICE r allows down to nice 20 − r, so the default 0 allows nothing', () => {
    const none = 'CapEff:\t0000000000000000\n';
    assert.equal(mayRaiseTo(0, none, limits('0')), false);
    assert.equal(mayRaiseTo(0, none, limits('20')), true);
    assert.equal(mayRaiseTo(5, none, limits('15')), true);
    assert.equal(mayRaiseTo(4, none, limits('15')), false);
    assert.equal(mayRaiseTo(0, none, limits('unlimited')), true);
    assert.equal(mayRaiseTo(0, none, 'nothing readable'), false);
  });
});

describe('thread priority: a real worker_thread', () => {
  const priority = backgroundBoots();
  it('is lowered to nice 19 as it is created and raised back to the process priority', {
    skip: priority ? false : 'this process may not raise a thread back (not Linux, or no CAP_SYS_NICE / RLIMIT_NICE)',
  }, async () => {
    const { value: worker, tid } = priority!.lowered(
      () =>
        new Worker('require("node:worker_threads").parentPort.once("message", () => process.exit(0))', { eval: true }),
    );
    try {
      assert.ok(tid !== undefined, 'the new OS thread was found in /proc/self/task');
      assert.equal(getPriority(tid), 19);
      priority!.restore(tid);
      assert.equal(getPriority(tid), getPriority());
    } finally {
      worker.postMessage('exit');
      await new Promise((r) => worker.once('exit', r));
    }
    priority!.restore(tid!); // gone: ignored
  });
});
