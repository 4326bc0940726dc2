import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readRun } from '../../analyzer/run-reader.js';
import { main } from '../../cli/main.js';
import { analyseAndSave } from '../../pipeline/analyse-and-save.js';
import { defaultCompareDir } from '../../pipeline/report-runs.js';
import { captureIo } from '../helpers/capture-io.js';
import { writeSyntheticPair } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/**
 * A run folder where analysis.json cannot be stored: a directory holds its name. (chmod
 * does not stop root, who runs CI here; a rename onto a non-empty directory fails for all.)
 */
async function blockAnalysisFile(runDir: string): Promise<void> {
  await mkdir(join(runDir, 'analysis.json'));
  await writeFile(join(runDir, 'analysis.json', 'keep'), 'x');
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(argv, c.io);
  return { code, out: c.out(), err: c.err() };
}

describe('analyse and save: one policy for a run folder that cannot be written', () => {
  it('stores analysis.json beside the run data', async () => {
    await withTmpDir('leakscope-save-', async (dir) => {
      const { patched } = await writeSyntheticPair(dir, { intervalMs: 1000 });
      const saved = await analyseAndSave(readRun(patched));
      assert.equal(saved.warning, undefined);
      assert.equal(saved.file, join(patched, 'analysis.json'));
      assert.equal(JSON.parse(await readFile(saved.file!, 'utf8')).overall.verdict, saved.analysis.overall.verdict);
      const notAsked = await analyseAndSave(readRun(patched), { write: false });
      assert.equal(notAsked.file, undefined);
      assert.equal(notAsked.warning, undefined);
    });
  });

  it('returns the analysis with a warning naming the folder, and leaves no temp file', async () => {
    await withTmpDir('leakscope-save-ro-', async (dir) => {
      const { leaky } = await writeSyntheticPair(dir, { intervalMs: 1000 });
      await blockAnalysisFile(leaky);
      const before = await readdir(leaky);
      const saved = await analyseAndSave(readRun(leaky));
      assert.equal(saved.analysis.run.mode, 'leaky');
      assert.equal(saved.file, undefined);
      assert.match(
        saved.warning ?? '',
        /^analysis\.json not written into .+leaky \(E[A-Z]+\); the analysis was used but not stored$/,
      );
      assert.ok(saved.warning!.includes(leaky));
      assert.deepEqual(await readdir(leaky), before);
    });
  });

  it('gate and report both print the warning and carry on', async () => {
    await withTmpDir('leakscope-save-cli-', async (dir) => {
      const { leaky, patched } = await writeSyntheticPair(dir, { intervalMs: 1000 });
      await blockAnalysisFile(leaky);
      const gate = await cli(['gate', leaky, '--no-heap']);
      assert.ok(gate.code === 0 || gate.code === 1, gate.err);
      assert.match(gate.err, /leakscope gate: warning: analysis\.json not written into .*leaky/);
      const out = join(dir, 'cmp');
      const report = await cli(['report', leaky, patched, '--out', out, '--no-png']);
      assert.equal(report.code, 0, report.err);
      assert.match(report.err, /leakscope report: warning: analysis\.json not written into .*leaky/);
      assert.doesNotMatch(report.err, /patched/);
      assert.ok(existsSync(join(out, 'index.html')));
      assert.ok(existsSync(join(patched, 'analysis.json')));
    });
  });

  it('a comparison goes under the working directory by default', () => {
    assert.match(defaultCompareDir('/home/u/svc'), /^\/home\/u\/svc\/reports\/compare-[^/]+$/);
    assert.ok(defaultCompareDir().startsWith(join(process.cwd(), 'reports', 'compare-')));
  });
});
