import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { LsError } from '../../common/errors.js';
import { readProcStats } from '../../common/proc.js';

describe('readProcStats', () => {
  it('reads this process: memory, threads by name summing to the thread count, open fds', () => {
    const p = readProcStats(process.pid);
    assert.equal(p.pid, process.pid);
    assert.ok(p.rssBytes > 10 * 1024 * 1024, `rss ${p.rssBytes}`);
    assert.ok(p.vmHwmBytes >= p.rssBytes);
    assert.ok(
      Math.abs(p.rssBytes - process.memoryUsage().rss) < 16 * 1024 * 1024,
      'rss agrees with process.memoryUsage()',
    );
    assert.ok(p.threads >= 2);
    const named = Object.values(p.threadsByName).reduce((a, b) => a + b, 0);
    assert.equal(named, p.threads);
    assert.ok(p.openFds !== null && p.openFds >= 3);
  });

  it('sees a new thread come and go', async () => {
    const before = readProcStats(process.pid).threads;
    const w = new Worker('setInterval(() => {}, 1000)', { eval: true });
    await once(w, 'online');
    assert.ok(readProcStats(process.pid).threads >= before + 1);
    await w.terminate();
    assert.ok(readProcStats(process.pid).threads <= before);
  });

  it('reads a process that is not Node (its threads keep their own name)', async () => {
    const child = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await once(child, 'spawn');
      const p = readProcStats(child.pid!);
      assert.deepEqual(p.threadsByName, { sleep: 1 });
      assert.equal(p.threads, 1);
      assert.ok(p.rssBytes > 0);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('refuses a pid that does not exist or is not a pid with LS_ERR_TARGET', () => {
    // Above Linux's largest pid_max (2^22), so never a live process.
    assert.throws(
      () => readProcStats(4_194_305),
      (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_TARGET' && /does not exist/.test(e.message),
    );
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => readProcStats(bad),
        (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_TARGET',
      );
    }
  });

  it('is cheap enough to sample every 250 ms', () => {
    const t0 = performance.now();
    for (let i = 0; i < 50; i++) readProcStats(process.pid);
    const each = (performance.now() - t0) / 50;
    assert.ok(each < 5, `one sample took ${each.toFixed(2)} ms`);
  });
});
