import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readRun } from '../../analyzer/run-reader.js';
import { runScenario } from '../../scenarios/runner.js';
import { builtinScenarios, loadScenario } from '../../scenarios/scenario.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('every built-in scenario file is valid and has the phases its story needs', () => {
  assert.deepEqual(builtinScenarios(), ['hot-reload', 'shuffled-input', 'soak', 'traffic-spike']);
  const shuffled = loadScenario('shuffled-input');
  assert.equal(shuffled.phases[0]!.order, 'fixed');
  assert.ok(shuffled.phases.slice(1).every((p) => p.order === 'permutations' && p.steady));
  assert.deepEqual(
    shuffled.phases.map((p) => p.snapshot),
    ['baseline', 'target', 'final'],
  );
  const spike = loadScenario('traffic-spike');
  assert.ok(spike.target.modelDelayMs! > 0);
  assert.ok(spike.phases[1]!.rate! >= 10 * spike.phases[0]!.rate!, 'the spike is far above the baseline rate');
  assert.ok(loadScenario('hot-reload').phases.some((p) => p.reloadEveryS));
  assert.ok(loadScenario('soak').phases.every((p) => p.order === 'fixed'));
});

test('hot-reload at small scale: versions are written and retired under load, and no request fails', async () => {
  await withTmpDir('leakscope-builtin-', async (dir) => {
    const events: string[] = [];
    // Leaky: no thread cap, so no request is shed under a CI runner's stalls; only swaps could fail one.
    const out = await runScenario({
      scenario: 'hot-reload',
      target: { kind: 'spawn', mode: 'leaky' },
      overrides: { durationS: 7.5, rate: 60 },
      out: join(dir, 'hr'),
      snapshots: false,
      onEvent: (l) => events.push(l),
    });
    assert.equal(out.manifest.status, 'complete', out.manifest.error);
    const reloads = events.filter((l) => /hot-reload: wrote version \d+/.test(l));
    assert.ok(reloads.length >= 2, `versions written: ${reloads.join('; ')}`);
    const run = readRun(out.dir);
    for (const p of run.results.phases) {
      assert.equal(p.errors, 0, `${p.name}: ${JSON.stringify(p.statusCounts)}`);
      assert.equal(p.completed, p.sent);
    }
    assert.ok(run.samples.length > 10);
  });
});

test('soak at small scale over REST, with allocation sampling: the run directory holds a .heapprofile', async () => {
  await withTmpDir('leakscope-builtin-', async (dir) => {
    const out = await runScenario({
      scenario: 'soak',
      target: { kind: 'spawn', mode: 'leaky' },
      overrides: { durationS: 3, rate: 80, transport: 'rest' },
      out: join(dir, 'soak'),
      snapshots: false,
      allocationSampling: true,
    });
    assert.equal(out.manifest.status, 'complete', out.manifest.error);
    assert.ok(
      out.results.every((r) => r.transport === 'rest' && (r.statusCounts['200'] ?? 0) > 0),
      JSON.stringify(out.results.map((r) => r.statusCounts)),
    );
    assert.equal(out.manifest.heapProfiles.length, 1);
    const files = readdirSync(join(out.dir, 'profiles'));
    assert.equal(files.length, 1);
    assert.match(files[0]!, /\.heapprofile$/);
    // GC-settled samples: the scenario asks for them and the spawned server allows them; each
    // carries the heap its gc() left, read in the server right after it.
    const settled = readRun(out.dir).samples.filter((s) => s.gcSettled === true);
    assert.ok(settled.length > 0);
    assert.ok(
      settled.every((s) => typeof s.heapSettledBytes === 'number' && s.heapSettledBytes > 1e6),
      JSON.stringify(settled[0]),
    );
  });
});

test('an interrupted run (Ctrl-C) stops the load, keeps what was measured and says so', async () => {
  await withTmpDir('leakscope-builtin-', async (dir) => {
    const abort = new AbortController();
    const t0 = Date.now();
    // Stopped 1.5 s into the first phase (a loaded machine takes seconds just to start the server).
    let armed = false;
    const out = await runScenario({
      scenario: 'soak',
      target: { kind: 'spawn', mode: 'patched' },
      out: join(dir, 'int'),
      snapshots: false,
      signal: abort.signal,
      onEvent: (line) => {
        if (armed || !line.startsWith('phase ')) return;
        armed = true;
        setTimeout(() => abort.abort(), 1500);
      },
    });
    assert.ok(Date.now() - t0 < 40_000, 'stopped long before the 40 s of the scenario, start-up included');
    // Stopped inside the 20 s warm-up: it is the only phase.
    assert.deepEqual(
      out.manifest.phases.map((p) => p.name),
      ['warmup'],
    );
    assert.equal(out.manifest.status, 'interrupted');
    const run = readRun(out.dir);
    assert.ok(run.samples.length > 3);
    assert.ok(run.results.phases.length >= 1 && run.results.phases[0]!.completed > 0);
  });
});
