import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../../cli/main.js';
import { plant, PLANTED, withTempDir } from './fixtures.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const sink = (f: (s: string) => void): Writable =>
    new Writable({
      write(c, _e, cb) {
        f(String(c));
        cb();
      },
    });
  const code = await main(argv, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)) });
  return { code, out, err };
}

test('leakscope heap summary|diff|leaks print tables, JSON, and exit 2 on bad input', async () => {
  await withTempDir(async (dir) => {
    const [s1, s2, s3] = await plant(dir, 'executorCache');

    const summary = await run(['heap', 'summary', s2, '--top', '5']);
    assert.equal(summary.code, 0, summary.err);
    assert.match(summary.out, /Class\s+Count\s+Self size\s+Retained size\s+% heap/);
    assert.equal(summary.out.split('\n').filter((l) => /\d+(\.\d+)? (B|KiB|MiB)\s+\d/.test(l)).length >= 5, true);
    assert.match(summary.out, /SessionCache\.executors \(Map@\d+\)/);
    const withProgress = await run(['heap', 'summary', s2, '--top', '1', '--progress']);
    assert.match(
      withProgress.err,
      /parse: 100% \(\d+(\.\d+)? (KiB|MiB) of \d+(\.\d+)? (KiB|MiB)\)\ngraph: done\ndominators: done\nretained: done\n$/,
    );
    assert.equal(summary.err, '', 'small files print no progress by default');
    const sj = JSON.parse((await run(['heap', 'summary', s2, '--top', '3', '--json'])).out) as {
      classes: unknown[];
      nodeCount: number;
    };
    assert.equal(sj.classes.length, 3);
    assert.ok(sj.nodeCount > 1000);

    const diff = await run(['heap', 'diff', s1, s2]);
    assert.equal(diff.code, 0, diff.err);
    assert.match(diff.out, /ExecutorEntry\s+2,000\s+50\s+\+1,950/);
    const dj = JSON.parse((await run(['heap', 'diff', s1, s2, '--json'])).out) as {
      rows: { className: string; newCount: number }[];
    };
    assert.equal(dj.rows.find((r) => r.className === 'ExecutorEntry')?.newCount, PLANTED.executorCache.leaked);

    const leaks = await run(['heap', 'leaks', s1, s2, s3, '--top', '3']);
    assert.equal(leaks.code, 0, leaks.err);
    assert.match(leaks.out, /1\s+\(string\)\s+2,000 .* SessionCache\.executors\.table/);
    assert.match(
      leaks.out,
      /1\. global → global\.session \(Object\) → Object\.cache \(SessionCache\) → SessionCache\.executors \(Map\) → table → "/,
    );
    const lj = JSON.parse((await run(['heap', 'leaks', s1, s2, s3, '--json'])).out) as {
      groups: { className: string; count: number }[];
    };
    assert.equal(lj.groups[0]!.count, PLANTED.executorCache.leaked);

    const truncated = join(dir, 'cut.heapsnapshot');
    await writeFile(truncated, (await readFile(s1)).subarray(0, 5000));
    const bad = await run(['heap', 'summary', truncated]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.err,
      new RegExp(
        `${truncated.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: truncated or corrupt heap snapshot at byte 5000`,
      ),
    );
    const notSnap = join(dir, 'notes.txt');
    await writeFile(notSnap, 'hello');
    const ns = await run(['heap', 'diff', s1, notSnap]);
    assert.equal(ns.code, 2);
    assert.match(ns.err, /notes\.txt: .*expected "\{"/);

    const usage = await run(['heap', 'leaks', s1, s2]);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /expected BASELINE \[MORE…\] TARGET FINAL \(at least 3 snapshots\), got 2/);
    assert.equal((await run(['heap', 'summary', s1, '--top', '0'])).code, 2);
    const help = await run(['heap', 'leaks', '--help']);
    assert.match(help.out, /Usage: leakscope heap leaks BASELINE \[MORE…\] TARGET FINAL/);
    assert.match((await run(['--help'])).out, /heap summary[\s\S]*heap diff[\s\S]*heap leaks/);
  });
});
