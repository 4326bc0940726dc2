import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RUN_FORMAT } from '../../common/run-format.js';
import { VERSION } from '../../common/version.js';
import { buildManifest, closeOpenPhase, hostFacts, newRunRecord, unfinished } from '../../scenarios/run-record.js';
import { safeRunName } from '../../scenarios/runner.js';
import { modeLabel, requestedTarget } from '../../scenarios/run-target.js';
import { parseScenario } from '../../scenarios/scenario.js';

const def = {
  ...parseScenario(
    { name: 'tiny', sampleIntervalMs: 100, phases: [{ name: 'one', requests: 10, rate: 5, snapshot: 'final' }] },
    'tiny.json',
    '/somewhere/local',
  ),
  file: '/somewhere/local/tiny.json',
};

const host = { cpus: 2, memBytes: 4 * 2 ** 30, platform: 'linux', node: 'v20.0.0', hostname: 'box' };

test('a new run: the requested target, complete with nothing recorded, no error or artefacts; the definition without local paths', () => {
  const r = newRunRecord(
    'tiny-leaky-x',
    def,
    { seed: 1, gcSettledEvery: 0 },
    requestedTarget({ kind: 'spawn', mode: 'leaky' }),
    new Date('2026-01-02T03:04:05.000Z'),
  );
  const m = buildManifest(r, new Date('2026-01-02T03:04:06.500Z'), host);
  assert.deepEqual(m, {
    format: RUN_FORMAT,
    tool: { name: 'leakscope', version: VERSION },
    runId: 'tiny-leaky-x',
    scenario: {
      name: 'tiny',
      file: '/somewhere/local/tiny.json',
      definition: { ...def, baseDir: undefined, file: undefined },
      parameters: { seed: 1, gcSettledEvery: 0 },
    },
    target: { kind: 'spawned', mode: 'leaky', fixes: [], pid: 0, grpc: '', rest: '' },
    host,
    startedAt: '2026-01-02T03:04:05.000Z',
    endedAt: '2026-01-02T03:04:06.500Z',
    status: 'complete',
    sampleIntervalMs: 100,
    phases: [],
    snapshots: [],
    heapProfiles: [],
  });
  const written = JSON.parse(JSON.stringify(m));
  assert.equal('baseDir' in written.scenario.definition || 'file' in written.scenario.definition, false);
  assert.equal('error' in m || 'artifacts' in m, false);
});

test('the manifest is the record as it stands: attached target, phases, captures, artefacts, how it ended', () => {
  const r = newRunRecord('tiny-external-x', def, { seed: 3 }, requestedTarget({ kind: 'external', grpc: 'a:1' }));
  assert.deepEqual(buildManifest(r).target, { kind: 'external' });
  const underWay = { ...buildManifest(r), ...unfinished() };
  assert.equal(underWay.status, 'running');
  assert.match(underWay.error!, /has not finished/);
  assert.equal(underWay.runner!.pid, process.pid);
  assert.ok(underWay.runner!.startTicks! > 0, 'the runner is identified by its start time too (pids are reused)');
  r.target = { kind: 'external', grpc: 'a:1', pid: 42 };
  r.phases.push({
    name: 'one',
    startMs: 0,
    endMs: 2000,
    steady: false,
    transport: 'grpc',
    load: { rate: 5, requests: 10, maxInflight: 64, order: 'fixed', batch: 1 },
  });
  r.snapshots.push({
    label: 'final',
    file: 'snapshots/final.heapsnapshot',
    phase: 'one',
    tMs: 2001,
    captureMs: 80,
    bytes: 1e6,
    isolate: 'main',
  });
  r.heapProfiles.push({ file: 'profiles/one.heapprofile', phase: 'one' });
  r.artifacts.clinic = 'clinic/x.html';
  r.status = 'target-died';
  r.error = "the target exited during phase 'one'";
  const m = buildManifest(r, new Date(), hostFacts());
  assert.deepEqual(m.target, { kind: 'external', grpc: 'a:1', pid: 42 });
  assert.deepEqual(
    [m.phases.map((p) => p.name), m.snapshots.map((s) => s.label), m.heapProfiles.map((h) => h.phase)],
    [['one'], ['final'], ['one']],
  );
  assert.deepEqual(m.artifacts, { clinic: 'clinic/x.html' });
  assert.equal(m.status, 'target-died');
  assert.equal(m.error, "the target exited during phase 'one'");
  assert.deepEqual(m.scenario.parameters, { seed: 3 });
  assert.ok(m.host.cpus >= 1 && m.host.memBytes > 0);
});

test('run ids name the target: mode, fixes (letters and digits, + between), external or inspect', () => {
  assert.equal(modeLabel({ kind: 'spawn' }), 'patched');
  assert.equal(modeLabel({ kind: 'spawn', mode: 'leaky' }), 'leaky');
  assert.equal(modeLabel({ kind: 'spawn', fixes: 'sort-inputs,thread-cap' }), 'fixes-sort+inputs+thread+cap');
  assert.equal(modeLabel({ kind: 'spawn', fixes: '' }), 'fixes-none');
  assert.equal(modeLabel({ kind: 'external', grpc: 'a:1' }), 'external');
  assert.equal(modeLabel({ kind: 'external', inspect: '127.0.0.1:9229' }), 'inspect');
});

test('a phase left open by a run that stopped inside it is closed at the stop, never before its start', () => {
  const r = newRunRecord('tiny-x', def, {}, requestedTarget({ kind: 'spawn' }));
  const load = { rate: 5, requests: 10 };
  r.phases.push({ name: 'one', startMs: 100, endMs: 100, steady: true, transport: 'grpc', load, open: true });
  closeOpenPhase(r, 2500.4);
  assert.deepEqual(r.phases, [{ name: 'one', startMs: 100, endMs: 2500, steady: true, transport: 'grpc', load }]);
  closeOpenPhase(r, 9999);
  assert.equal(r.phases[0]!.endMs, 2500, 'a closed phase stays as it was');
  r.phases.push({ name: 'two', startMs: 3000, endMs: 3000, steady: true, transport: 'grpc', load, open: true });
  closeOpenPhase(r, 10);
  assert.equal(r.phases[1]!.endMs, 3000);
});

test('run names are safe file names: no path separators, no leading dots, bounded; what was sanitised is said', () => {
  assert.equal(safeRunName('../../../x'), 'x');
  assert.equal(safeRunName('shuffled-input'), 'shuffled-input');
  assert.equal(safeRunName('a/b\\c d'), 'a-b-c-d');
  assert.equal(safeRunName('..'), 'run');
  assert.equal(safeRunName(''), 'run');
  assert.equal(safeRunName('\u0000\n<script>'), 'script');
  assert.equal(safeRunName('x'.repeat(300)).length, 80);
  assert.equal(safeRunName('.hidden'), 'hidden');
});
