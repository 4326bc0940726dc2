/**
 * The gate's "not enough data" checks: a steady phase without the samples its duration implies
 * fails the gate with the counts — inconclusive (exit 3) when nothing else failed, a failure
 * (exit 1) when a leak did too — unless the budget marks that check optional; and no STABLE
 * verdict is given on such a run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import type { Sample } from '../../common/run-format.js';
import { captureIo } from '../helpers/capture-io.js';
import { writeSyntheticRun } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

interface GateJson {
  pass: boolean;
  outcome: string;
  verdict: string;
  headline: string;
  checks: { id: string; status: string; message: string }[];
}

async function gate(...args: string[]): Promise<{ code: number; result?: GateJson; err: string }> {
  const c = captureIo();
  const code = await main(['gate', ...args, '--json', '--no-heap'], c.io);
  return { code, ...(code !== 2 ? { result: JSON.parse(c.out()) as GateJson } : {}), err: c.err() };
}

const samplesFile = (dir: string) => join(dir, 'samples.ndjson');
const keepSamples = (dir: string, keep: (s: Sample) => boolean) => {
  const lines = readFileSync(samplesFile(dir), 'utf8').split('\n').filter(Boolean);
  writeFileSync(samplesFile(dir), `${lines.filter((l) => keep(JSON.parse(l) as Sample)).join('\n')}\n`);
};
const check = (r: GateJson, id: string) => r.checks.find((c) => c.id === id);

test('samples cut to the warm-up with the manifest "complete": exit 3 (inconclusive), "not enough data" with the counts, no STABLE', async () => {
  await withTmpDir('leakscope-gate-data-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'patched' });
    const whole = await gate(dir);
    assert.equal(whole.code, 0, JSON.stringify(whole.result?.checks.filter((c) => c.status === 'fail')));
    assert.equal(check(whole.result!, 'run.data.steady')?.status, 'pass');
    // The synthetic patched run reads STABLE (docs/verdicts.md, "The overall verdict"); what
    // matters here is that it has its data.
    assert.notEqual(whole.result!.verdict, 'INSUFFICIENT_DATA');

    keepSamples(dir, (s) => s.phase === 'warmup');
    const cut = await gate(dir);
    assert.equal(cut.code, 3);
    assert.equal(cut.result!.pass, false);
    assert.equal(cut.result!.outcome, 'inconclusive');
    const c = check(cut.result!, 'run.data.steady')!;
    assert.equal(c.status, 'fail');
    assert.equal(c.message, 'not enough data: steady phase steady has 0 of 120 expected samples');
    assert.equal(cut.result!.verdict, 'INSUFFICIENT_DATA');
  });
});

test('samples that stop early in a steady phase: not enough data, naming how long the phase went unsampled', async () => {
  await withTmpDir('leakscope-gate-data-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'patched' });
    // The steady phase runs 5–35 s: keep its first 20 s only (two thirds of its samples).
    keepSamples(dir, (s) => s.phase !== 'steady' || s.t < 25_000);
    const r = await gate(dir);
    assert.equal(r.code, 3);
    assert.match(
      check(r.result!, 'run.data.steady')!.message,
      /^not enough data: steady phase steady has 80 of 120 expected samples, none in its last 10\.3 s of 30\.0 s$/,
    );
    assert.notEqual(r.result!.verdict, 'STABLE');
  });
});

test('a leak with a data gap is a failure, not inconclusive: exit 1, the leak and the gap both failed', async () => {
  await withTmpDir('leakscope-gate-data-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'leaky' });
    keepSamples(dir, (s) => s.phase !== 'steady' || s.t < 25_000);
    const r = await gate(dir);
    assert.equal(r.code, 1);
    assert.equal(r.result!.outcome, 'fail');
    const failed = r.result!.checks.filter((c) => c.status === 'fail').map((c) => c.id);
    assert.ok(failed.includes('run.data.steady'), failed.join(', '));
    assert.ok(
      failed.some((id) => id.startsWith('series.')),
      failed.join(', '),
    );
  });
});

test('a sampler that is slow all through a phase is not missing data: a fifth of the samples, to the end, pass', async () => {
  await withTmpDir('leakscope-gate-data-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'patched' });
    let n = 0;
    keepSamples(dir, (s) => s.phase !== 'steady' || n++ % 4 === 0);
    const r = await gate(dir);
    assert.equal(check(r.result!, 'run.data.steady')?.status, 'pass');
    assert.equal(check(r.result!, 'run.data.steady')?.message, '30 of 120 expected samples');
  });
});

test('a budget may mark a data check optional: skipped, saying so; a bad "optional" is exit 2 naming the field', async () => {
  await withTmpDir('leakscope-gate-data-', async (dir) => {
    const run = join(dir, 'run');
    await writeSyntheticRun(run, { mode: 'patched' });
    keepSamples(run, (s) => s.phase === 'warmup');
    const budget = join(dir, 'budget.json');
    writeFileSync(budget, JSON.stringify({ extends: 'default', requireVerdict: false, optional: ['run.data.*'] }));
    const r = await gate(run, '--budget', budget);
    const c = check(r.result!, 'run.data.steady')!;
    assert.equal(c.status, 'skip');
    assert.match(c.message, /not enough data: .* \(optional in this budget\)$/);
    writeFileSync(budget, JSON.stringify({ extends: 'default', optional: 'run.data.steady' }));
    const bad = await gate(run, '--budget', budget);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /budget\.json: optional: expected a list of check ids/);
  });
});
