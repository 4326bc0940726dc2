import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import { LsError } from '../../common/errors.js';
import { DEFAULT_BUDGET, parseBudget } from '../../analyzer/budget.js';
import { gateRun } from '../../pipeline/gate-run.js';
import { xmlEscape } from '../../analyzer/junit.js';
import { captureIo } from '../helpers/capture-io.js';
import { referenceLikeRun, writeRunDir } from '../helpers/analyzer-series.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const xmlUnescape = (s: string) =>
  s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');

async function gate(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const code = await main(['gate', ...args], c.io);
  return { code, out: c.out(), err: c.err() };
}

test('gate passes a patched-like run (exit 0) and writes analysis.json', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    const dir = join(root, 'patched');
    await writeRunDir(dir, { ...referenceLikeRun(false, 1), mode: 'patched' });
    const r = await gate([dir]);
    assert.equal(r.code, 0, r.out + r.err);
    // Its unsettled heap over a short steady phase is not proven negligible, but the GC-settled
    // heap is: garbage between full GCs, carried under an overall STABLE and said so.
    assert.match(r.out, /^leakscope gate: PASS — synthetic \(patched\), verdict STABLE/);
    assert.match(r.out, /V8 heap used not proven negligible \(garbage between full GCs: the GC-settled heap is\)/);
    assert.ok(r.out.split('\n').length < 40, 'one screen');
    const a = JSON.parse(await readFile(join(dir, 'analysis.json'), 'utf8'));
    assert.equal(a.format, 1);
    assert.equal(a.overall.verdict, 'STABLE');
    assert.equal(a.overall.culprit, null);
    assert.deepEqual(a.run.steadyPhases, ['steady']);
    assert.equal(a.threads.bounded, true);
    // A capped pool's small rise is not an explosion to undo: not judged.
    assert.equal(a.threads.cameBackDown, null);
  });
});

test('gate fails a leaky-like run (exit 1) with the numbers, in text, JSON and JUnit', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    const dir = join(root, 'leaky');
    await writeRunDir(dir, { ...referenceLikeRun(true, 2), mode: 'leaky' });
    const xml = join(root, 'gate.xml');
    const r = await gate([dir, '--junit', xml]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.out, /^leakscope gate: FAIL/);
    assert.match(r.out, /FAIL series\.cacheEntries\.mustNotLeak: LEAK/);
    assert.match(r.out, /FAIL threads\.mustComeBackDown/);
    assert.match(r.out, /FAIL threads\.maxPerInflight: (0\.9\d|1\.00) \(95% CI/);

    const doc = await readFile(xml, 'utf8');
    assert.match(doc, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<testsuites /);
    assert.equal((doc.match(/<testsuite /g) ?? []).length, 1);
    const cases = [...doc.matchAll(/<testcase name="([^"]*)"/g)].map((m) => xmlUnescape(m[1]!));
    const failures = [...doc.matchAll(/<failure message="([^"]*)" type="budget">([^<]*)<\/failure>/g)];
    const suite = doc.match(/<testsuite name="[^"]*" tests="(\d+)" failures="(\d+)" skipped="(\d+)"/)!;
    assert.equal(Number(suite[1]), cases.length);
    assert.equal(Number(suite[2]), failures.length);
    assert.ok(failures.length >= 3);
    assert.ok(cases.includes('series.cacheEntries.mustNotLeak') && cases.includes('run.status'));
    const cache = failures.find((f) => xmlUnescape(f[2]!).startsWith('series.cacheEntries.mustNotLeak'))!;
    assert.match(
      xmlUnescape(cache[2]!),
      /executor-cache entries grow 0\.9 entries\/request ±[\d.]+ entries \(95% CI\), [\d.]+ entries\/s, Mann-Kendall p<0\.001/,
    );
    assert.match(xmlUnescape(cache[1]!), /^expected verdict is not LEAK, got LEAK$/);

    const j = await gate([dir, '--json']);
    assert.equal(j.code, 1);
    const res = JSON.parse(j.out);
    assert.equal(res.pass, false);
    assert.equal(res.verdict, 'LEAK');
    assert.equal(res.counts.fail, failures.length);
    assert.match(res.headline, /^Leak: /);
  });
});

test('a budget file replaces the default; extends keeps it; phase and p99 checks', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    const dir = join(root, 'patched');
    await writeRunDir(dir, {
      ...referenceLikeRun(false, 3),
      results: [
        { name: 'warmup' },
        { name: 'steady', errors: 30, statusCounts: { OK: 970, UNAVAILABLE: 30 } },
        { name: 'spike', dropped: 400 },
        { name: 'recovery' },
      ],
    });
    const budget = join(root, 'budget.json');
    await writeFile(
      budget,
      JSON.stringify({
        threads: { maxPeak: 12 },
        phases: { steady: { maxP99Ms: 5 }, '@steady': { maxErrorRate: 0.05 }, spike: { maxDroppedRate: 0.1 } },
      }),
    );
    const r = await gate([dir, '--budget', budget, '--json']);
    const res = JSON.parse(r.out);
    assert.equal(r.code, 1);
    const byId = Object.fromEntries(res.checks.map((c: { id: string }) => [c.id, c]));
    assert.equal(byId['threads.maxPeak'].status, 'fail');
    assert.equal(byId['threads.maxPeak'].actual, 'peak 19');
    assert.equal(byId['phases.steady.maxP99Ms'].status, 'fail');
    assert.equal(byId['phases.steady.maxErrorRate'].status, 'pass', '3% errors within 5%');
    assert.equal(byId['phases.spike.maxDroppedRate'].status, 'fail');
    assert.equal(byId['phases.spike.maxDroppedRate'].actual, '40% (400 of 1000)');
    assert.equal(byId['series.rssBytes.mustNotLeak'], undefined, 'replaced, not merged');

    await writeFile(budget, JSON.stringify({ extends: 'default', phases: { '@steady': { maxErrorRate: 0.01 } } }));
    const r2 = JSON.parse((await gate([dir, '--budget', budget, '--json'])).out);
    const ids = Object.fromEntries(r2.checks.map((c: { id: string; status: string }) => [c.id, c.status]));
    assert.equal(ids['series.rssBytes.mustNotLeak'], 'pass');
    assert.equal(ids['phases.steady.maxErrorRate'], 'fail');
    assert.match(
      r2.checks.find((c: { id: string }) => c.id === 'phases.steady.maxErrorRate').message,
      /UNAVAILABLE 30/,
    );

    // Load shedding past the thread cap is not an error under the default budget.
    await writeRunDir(dir, {
      ...referenceLikeRun(false, 3),
      results: [{ name: 'steady', errors: 300, statusCounts: { OK: 700, RESOURCE_EXHAUSTED: 300 } }],
    });
    const shed = (await gateRun(dir, { write: false })).result.checks.find(
      (c) => c.id === 'phases.steady.maxErrorRate',
    )!;
    assert.equal(shed.status, 'pass');
    assert.equal(shed.actual, '0% (0 of 1000)');
    assert.match(shed.message, /RESOURCE_EXHAUSTED 300 \(not counted\)/);
  });
});

test('bad budget files: exit 2 with the file and field named', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    const dir = join(root, 'run');
    await writeRunDir(dir, referenceLikeRun(false, 4));
    const cases: [unknown, RegExp][] = [
      [
        { series: { rss: { maxPerRequest: 1 } } },
        /budget\.json: series\.rss: not a known series \(known: \*, rssBytes/,
      ],
      [
        { series: { rssBytes: { maxPerRequest: '1KB' } } },
        /series\.rssBytes\.maxPerRequest: expected a number ≥ 0, got "1KB"/,
      ],
      [
        { threads: { maxpeak: 3 } },
        /threads\.maxpeak: unknown field \(allowed: maxPeak, maxPerInflight, mustBeBounded, mustComeBackDown\)/,
      ],
      [{ treads: {} }, /treads: unknown field \(allowed: \$schema, description, extends, confidence/],
      [
        { phases: { steady: { maxErrorRate: 2 } } },
        /phases\.steady\.maxErrorRate: expected a number from 0 to 1, got 2/,
      ],
      [{ confidence: 0.2 }, /confidence: expected a number > 0\.5 and < 1, got 0\.2/],
      [{ confidence: 1 }, /confidence: expected a number > 0\.5 and < 1, got 1/],
      [{ requireVerdict: 'yes' }, /requireVerdict: expected true or false, got "yes"/],
      [{ extends: 'strict' }, /extends: expected "default" when given, got "strict"/],
      [
        { phases: { '@all': { excludeStatuses: 'RESOURCE_EXHAUSTED' } } },
        /phases\.@all\.excludeStatuses: expected a list of status codes \(strings\), got "RESOURCE_EXHAUSTED"/,
      ],
      [[1, 2], /budget\.json: expected an object \(a budget\), got \[1,2\]/],
    ];
    const budget = join(root, 'budget.json');
    for (const [raw, re] of cases) {
      await writeFile(budget, JSON.stringify(raw));
      const r = await gate([dir, '--budget', budget]);
      assert.equal(r.code, 2, JSON.stringify(raw));
      assert.ok(r.err.includes(budget), r.err);
      assert.match(r.err, re);
    }
    await writeFile(budget, '{ "series": ');
    let r = await gate([dir, '--budget', budget]);
    assert.equal(r.code, 2);
    assert.match(r.err, /budget\.json: the budget is not valid JSON/);
    r = await gate([dir, '--budget', join(root, 'nope.json')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /nope\.json: cannot read the budget \(ENOENT\)/);
    assert.throws(
      () => parseBudget({ series: { '*': { mustNotLeak: 1 } } }, 'b.json'),
      /b\.json: series\.\*\.mustNotLeak: expected true or false, got 1/,
    );
    assert.ok(Object.isFrozen(DEFAULT_BUDGET.series));
    // Several bad fields are named together; the budget read is frozen to the leaves.
    assert.throws(
      () => parseBudget({ confidence: 'high', threads: { maxPeak: -1 } }, 'b.json'),
      (e: unknown) =>
        e instanceof LsError &&
        e.code === 'LS_ERR_BAD_FILE' &&
        /confidence: expected a number > 0\.5 and < 1, got "high"; threads\.maxPeak: expected a number ≥ 0, got -1/.test(
          e.message,
        ),
    );
    const read = parseBudget({ extends: 'default', series: { rssBytes: { maxPerRequest: 1 } } }, 'b.json');
    assert.equal(read.series.rssBytes?.maxPerRequest, 1);
    assert.equal(read.series.heapUsedSettledBytes?.maxPerRequest, 256);
    assert.ok(Object.isFrozen(read.series.rssBytes));
  });
});

test('unreadable run directories and bad usage: exit 2 with a clear message', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    let r = await gate([join(root, 'missing')]);
    assert.equal(r.code, 2);
    assert.match(r.err, /missing: not a run directory/);
    const empty = join(root, 'empty');
    await mkdir(empty);
    r = await gate([empty]);
    assert.equal(r.code, 2);
    assert.match(r.err, /manifest\.json: cannot read the run manifest \(ENOENT\)/);
    const bad = join(root, 'bad');
    await writeRunDir(bad, referenceLikeRun(false, 5));
    await writeFile(
      join(bad, 'samples.ndjson'),
      '{"t":0,"requests":0,"phase":"steady"}\nnot json\n{"t":1,"requests":1,"phase":"steady"}\n',
    );
    r = await gate([bad]);
    assert.equal(r.code, 2);
    assert.match(r.err, /samples\.ndjson: line 2 is not a valid sample/);
    r = await gate([]);
    assert.equal(r.code, 2);
    assert.match(r.err, /expected one RUN_DIR/);
    r = await gate([bad, '--scenario', 'soak']);
    assert.equal(r.code, 2);
    assert.match(r.err, /either RUN_DIR or --scenario/);
    r = await gate(['--scenario', 'soak', '--mode', 'bogus']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--mode: expected leaky or patched, got "bogus"/);
    r = await gate(['--scenario', 'no-such-scenario']);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown scenario 'no-such-scenario'/);
    r = await gate([bad, '--mode', 'leaky']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--mode and --out go with --scenario/);
  });
});

test('a run whose target died fails the gate; a spike-only run is judged on threads', async () => {
  await withTmpDir('leakscope-gate-', async (root) => {
    const dir = join(root, 'spike');
    const spec = referenceLikeRun(false, 6);
    await writeRunDir(dir, { ...spec, phases: spec.phases.map((p) => ({ ...p, steady: false })) });
    const { result, analysis } = await gateRun(dir);
    assert.ok(analysis.series.every((s) => s.verdict === 'INSUFFICIENT_DATA'));
    assert.match(analysis.warnings.join('\n'), /no phase is marked steady/);
    assert.equal(analysis.overall.verdict, 'STABLE');
    assert.equal(result.pass, true, JSON.stringify(result.checks.filter((c) => c.status === 'fail')));
    const m = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...m, status: 'target-died' }));
    const died = await gateRun(dir, { write: false });
    assert.equal(died.result.pass, false);
    assert.match(died.result.checks.find((c) => c.id === 'run.status')!.message, /target died/);
  });
});

test('XML escaping of text from targets', () => {
  assert.equal(xmlEscape(`<script>&"'\u0001`), '&lt;script&gt;&amp;&quot;&apos;');
});
