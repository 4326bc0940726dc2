import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeRun, writeAnalysis } from '../../analyzer/analyze-run.js';
import { readRun } from '../../analyzer/run-reader.js';
import { runProgram } from '../heap/fixtures.js';
import { referenceLikeRun, writeRunDir } from '../helpers/analyzer-series.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

// A program whose cache keeps one key string per "request", like the leaky executor cache.
const LEAKY_PROGRAM = `
class ExecutorCache { constructor() { this.executors = new Map(); } }
globalThis.session = { cache: new ExecutorCache() };
const keep = [];
const serve = (n, from) => { for (let i = from; i < from + n; i++) session.cache.executors.set('user_age,item_id,' + i + '->prob//0/', { id: i }); };
serve(100, 0); snap('baseline');
serve(4000, 100); snap('target');
serve(4000, 4100); snap('final');
`;

test('analyzeRun: verdicts over steady phases only, culprit from three snapshots, analysis.json round trip', async () => {
  await withTmpDir('leakscope-analyze-', async (dir) => {
    await runProgram(dir, LEAKY_PROGRAM);
    const snap = (label: string) => ({
      label,
      file: `${label}.heapsnapshot`,
      phase: 'steady',
      tMs: 0,
      captureMs: 1,
      bytes: 0,
      isolate: 'main',
    });
    await writeRunDir(dir, {
      ...referenceLikeRun(true, 11),
      mode: 'leaky',
      snapshots: [snap('baseline'), snap('target'), snap('final')],
    });
    const run = readRun(dir);
    const a = await analyzeRun(run, { top: 5 });
    assert.equal(a.format, 1);
    assert.equal(a.run.mode, 'leaky');
    assert.deepEqual(a.run.steadyPhases, ['steady']);
    assert.ok(a.series.every((s) => s.phases.every((p) => p === 'steady')));
    assert.equal(a.overall.verdict, 'LEAK');
    assert.ok(a.overall.leaking.includes('cacheEntries'));
    const c = a.overall.culprit!;
    assert.ok(c, JSON.stringify(a.heap?.note));
    assert.match(c.heldBy, /ExecutorCache\.executors/);
    assert.ok(c.count >= 4000, `count ${c.count}`);
    assert.ok(c.growthShare! > 0.3 && c.growthShare! <= 1.2, `share ${c.growthShare}`);
    assert.match(a.overall.headline, /held by ExecutorCache\.executors/);
    // The count a reason states is what the fitted phases sent (results.json: 1,000 in
    // 'steady'), not the span of the samples left after each phase's settling window.
    const cache = a.series.find((x) => x.key === 'cacheEntries')!;
    assert.notEqual(cache.requestSpan, 1000);
    assert.match(cache.reason, /over 1,000 requests/);
    assert.match(a.overall.headline, /over 1,000 requests/);
    assert.ok(a.heap!.diff!.rows.length > 0);
    assert.ok(a.heap!.leaks!.groups[0]!.steps.length > 1);
    assert.equal(a.phases.length, 4);

    const file = await writeAnalysis(dir, a);
    const back = JSON.parse(await readFile(file, 'utf8'));
    assert.deepEqual(back, JSON.parse(JSON.stringify(a)));

    const capped = await analyzeRun(run, { maxSnapshotBytes: 1000 });
    assert.equal(capped.overall.culprit, null);
    assert.match(capped.heap!.note!, /above the 1000 B limit; run `leakscope heap leaks` on it directly/);
    assert.equal((await analyzeRun(run, { heap: false })).heap, null);
  });
});

test('analyzeRun: a broken snapshot is a note and a warning, not a failure; unsampled series are absent', async () => {
  await withTmpDir('leakscope-analyze-', async (dir) => {
    const spec = referenceLikeRun(false, 12);
    const samples = spec.samples.map(({ openFds: _f, ...s }) => s);
    const snap = (label: string) => ({
      label,
      file: join('snapshots', `${label}.heapsnapshot`),
      phase: 'steady',
      tMs: 0,
      captureMs: 1,
      bytes: 0,
      isolate: 'main',
    });
    await writeRunDir(dir, { ...spec, samples, snapshots: [snap('baseline'), snap('final')] });
    const a = await analyzeRun(readRun(dir));
    // No series leaks; the heap between full GCs is not proven negligible, but the GC-settled
    // heap is, so that is garbage and the run is STABLE (docs/verdicts.md, "The overall verdict").
    assert.equal(a.overall.verdict, 'STABLE', a.overall.headline);
    assert.deepEqual(
      a.overall.inconclusive?.map((t) => t.key),
      ['heapUsedBytes'],
    );
    assert.equal(
      a.series.find((s) => s.key === 'openFds'),
      undefined,
    );
    assert.match(a.heap!.note!, /heap analysis skipped/);
    assert.ok(a.warnings.some((w) => /heap analysis skipped/.test(w)));
  });
});
