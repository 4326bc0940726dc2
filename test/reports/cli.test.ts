import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { captureIo } from '../helpers/capture-io.js';
import { writeSyntheticPair } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

test('leakscope report: one run into RUN_DIR/report, two runs into --out; exit 2 for unreadable runs and bad usage', async () => {
  await withTmpDir('leakscope-report-cli-', async (dir) => {
    const { leaky: a, patched: b } = await writeSyntheticPair(dir, { intervalMs: 1000 });

    const one = await run(['report', a, '--no-png']);
    assert.equal(one.code, 0, one.err);
    assert.match(one.out, /^(LEAK|GROWING|STABLE|INSUFFICIENT_DATA): .+\n/);
    assert.ok(one.out.endsWith(`report: ${join(a, 'report', 'index.html')}\n`), one.out);
    assert.deepEqual(await readdir(join(a, 'report')), ['index.html']);
    assert.ok(existsSync(join(a, 'analysis.json')), 'the analysis is stored beside the run data');

    const out = join(dir, 'cmp');
    const two = await run(['report', a, b, '--out', out]);
    assert.equal(two.code, 0, two.err);
    assert.match(two.out, /^A: \w+: .+\nB: \w+: /);
    assert.match(
      two.out,
      new RegExp(
        `\nreport: ${join(out, 'index.html').replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\ncharts: \\d+ PNG files in `,
      ),
    );
    assert.ok((await readdir(out)).filter((f) => f.endsWith('.png')).length >= 20);

    const missing = await run(['report', join(dir, 'nope')]);
    assert.equal(missing.code, 2);
    assert.match(missing.err, /^leakscope report: .*nope: not a run directory \(no such folder\)\n$/);

    const broken = join(dir, 'broken');
    await mkdir(broken);
    await writeFile(join(broken, 'manifest.json'), '{"format": 1,');
    const bad = await run(['report', broken, '--out', join(dir, 'x')]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /manifest\.json: the run manifest is not valid JSON/);
    assert.equal(existsSync(join(dir, 'x')), false, 'nothing written for an unreadable run');

    const newer = join(dir, 'newer');
    await mkdir(newer);
    await writeFile(join(newer, 'manifest.json'), '{"format": 99}');
    assert.match((await run(['report', a, newer, '--out', join(dir, 'y')])).err, /run format 99 is not supported/);

    const usage = await run(['report']);
    assert.equal(usage.code, 2);
    assert.match(usage.err, /expected RUN_DIR \[RUN_DIR_B\], got 0 argument\(s\)/);
    assert.equal((await run(['report', a, b, a])).code, 2);
    assert.equal((await run(['report', a, '--bogus'])).code, 2);
    assert.match((await run(['report', '--help'])).out, /Usage: leakscope report RUN_DIR \[RUN_DIR_B\]/);
  });
});
