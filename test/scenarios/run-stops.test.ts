/**
 * Every way a real `leakscope run` can stop — SIGINT once or twice, SIGTERM, SIGHUP, kill -9
 * of the runner, a crash of the target — leaves a run folder whose manifest lists exactly the
 * phases and snapshots on disk and says how the run ended; no server or model folder outlives
 * it; and the gate never calls what is left STABLE.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRun } from '../../analyzer/run-reader.js';
import { main } from '../../cli/main.js';
import { packageRoot } from '../../common/package-root.js';
import type { RunManifest } from '../../common/run-format.js';
import { captureIo } from '../helpers/capture-io.js';
import { alive, until } from '../helpers/processes.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const SCENARIO = {
  name: 'stops',
  sampleIntervalMs: 100,
  phases: [
    { name: 'warmup', requests: 30, rate: 60, order: 'fixed', snapshot: 'baseline' },
    {
      name: 'shuffle',
      durationS: 30,
      rate: 60,
      order: 'permutations',
      permutations: 100000,
      steady: true,
      snapshot: 'target',
    },
    { name: 'more', durationS: 5, rate: 60, order: 'permutations', permutations: 100000, steady: true },
  ],
};

const manifestOf = (dir: string): RunManifest => JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));

/** The model folder a spawned server removes on exit, from its command line. */
function modelRootOf(pid: number): string {
  const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  return args[args.indexOf('--remove-on-exit') + 1]!;
}

interface Started {
  readonly runner: ChildProcess;
  readonly stderr: () => string;
  readonly exit: Promise<number | null>;
  readonly serverPid: number;
  readonly modelRoot: string;
}

/** Starts `leakscope run` on the small scenario against a leaky server; resolves once the baseline snapshot has landed. */
async function startRun(file: string, out: string): Promise<Started> {
  const runner = spawn(
    process.execPath,
    [join(packageRoot(), 'bin', 'leakscope.js'), 'run', file, '--mode', 'leaky', '--out', out],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let err = '';
  runner.stderr!.on('data', (d) => (err += String(d)));
  runner.stdout!.resume();
  const exit = new Promise<number | null>((r) => runner.once('exit', (code, sig) => r(code ?? (sig ? -1 : null))));
  try {
    await until('the baseline snapshot', 90_000, () => {
      if (runner.exitCode !== null) throw new Error(`the run exited early (${runner.exitCode}): ${err}`);
      return /heap snapshot 'baseline': /.test(err);
    });
  } catch (e) {
    runner.kill('SIGKILL');
    throw e;
  }
  const serverPid = manifestOf(out).target.pid!;
  return { runner, stderr: () => err, exit, serverPid, modelRoot: modelRootOf(serverPid) };
}

/** Waits until the steady phase has been sampled (a loaded machine samples slowly), and a little more. */
async function intoSteadyPhase(out: string): Promise<void> {
  await until('a sample of the steady phase', 60_000, () =>
    readFileSync(join(out, 'samples.ndjson'), 'utf8').includes('"phase":"shuffle"'),
  );
  await new Promise((r) => setTimeout(r, 300));
}

/** The manifest's phases and snapshots are what the folder holds; returns the manifest as written. */
function assertManifestMatchesDisk(dir: string): RunManifest {
  const m = manifestOf(dir);
  const samples = readFileSync(join(dir, 'samples.ndjson'), 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .flatMap((l) => {
      try {
        return [JSON.parse(l) as { phase: string }];
      } catch {
        return []; // a line cut by a kill
      }
    });
  // Samples taken before the first phase starts are labelled 'start'.
  const sampled = new Set(samples.map((s) => s.phase).filter((p) => p !== 'start'));
  assert.deepEqual(
    m.phases.map((p) => p.name),
    SCENARIO.phases.map((p) => p.name).filter((p) => sampled.has(p)),
    'every sampled phase is listed, in order, and nothing else',
  );
  const results = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as { phases: { name: string }[] };
  assert.deepEqual(
    results.phases.map((p) => p.name),
    m.phases.filter((p) => !p.open).map((p) => p.name),
    'each ended phase has its load results',
  );
  const onDisk = readdirSync(join(dir, 'snapshots'))
    .filter((f) => f.endsWith('.heapsnapshot'))
    .sort();
  assert.deepEqual(m.snapshots.map((s) => s.file.replace(/^snapshots\//, '')).sort(), onDisk);
  assert.deepEqual(
    m.snapshots.map((s) => s.label),
    ['baseline'],
  );
  return m;
}

/** The run's server and its model folder are gone soon after the runner. */
async function assertNoOrphans(s: Started): Promise<void> {
  await until('the server to exit', 15_000, () => !alive(s.serverPid));
  await until('its model folder to be removed', 10_000, () => !existsSync(s.modelRoot));
}

async function gate(dir: string): Promise<{ code: number; out: string }> {
  const c = captureIo();
  const code = await main(['gate', dir, '--no-heap'], c.io);
  return { code, out: c.out() + c.err() };
}

async function withScenario(fn: (file: string, dir: string) => Promise<void>): Promise<void> {
  await withTmpDir('leakscope-stops-', async (dir) => {
    const file = join(dir, 'stops.json');
    await writeFile(file, JSON.stringify(SCENARIO));
    await fn(file, dir);
  });
}

for (const [signal, code, twice] of [
  ['SIGINT', 130, false],
  ['SIGINT', 130, true],
  ['SIGTERM', 143, false],
  ['SIGHUP', 129, false],
] as const) {
  test(`${signal}${twice ? ' twice, 50 ms apart,' : ''} during a leaky run: exit ${code}, status interrupted, the manifest lists the phases and the baseline snapshot on disk; the gate fails and does not say STABLE`, async () => {
    await withScenario(async (file, dir) => {
      const out = join(dir, 'run');
      const s = await startRun(file, out);
      try {
        await intoSteadyPhase(out);
        s.runner.kill(signal);
        if (twice) {
          await new Promise((r) => setTimeout(r, 50));
          s.runner.kill(signal);
        }
        const exit = await Promise.race([s.exit, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
        assert.equal(exit, code, s.stderr());
        const m = assertManifestMatchesDisk(out);
        assert.equal(m.status, 'interrupted');
        assert.match(m.error!, /interrupted/);
        assert.equal(m.runner, undefined, 'a finished run no longer names its runner');
        assert.deepEqual(
          m.phases.map((p) => p.name),
          ['warmup', 'shuffle'],
        );
        assert.equal(readRun(out).manifest.status, 'interrupted');
        await assertNoOrphans(s);
        const g = await gate(out);
        assert.equal(g.code, 1, g.out);
        assert.doesNotMatch(g.out, /STABLE/);
        assert.match(g.out, /not enough data: steady phase more has 0 of 50 expected samples \(it never ran\)/);
      } finally {
        s.runner.kill('SIGKILL');
      }
    });
  });
}

test('kill -9 of the runner: the manifest on disk lists what was measured, a reader reports the run killed, no orphan server or model folder', async () => {
  await withScenario(async (file, dir) => {
    const out = join(dir, 'run');
    const s = await startRun(file, out);
    try {
      await intoSteadyPhase(out);
      s.runner.kill('SIGKILL');
      await s.exit;
      const m = assertManifestMatchesDisk(out);
      assert.equal(m.status, 'running', 'as written: the runner never finished');
      assert.equal(m.runner?.pid, s.runner.pid);
      assert.deepEqual(
        m.phases.map((p) => [p.name, p.open ?? false]),
        [
          ['warmup', false],
          ['shuffle', true],
        ],
      );
      await assertNoOrphans(s);
      const run = readRun(out);
      assert.equal(run.manifest.status, 'killed');
      assert.match(run.manifest.error!, new RegExp(`runner \\(pid ${s.runner.pid}\\) is gone`));
      const shuffle = run.manifest.phases[1]!;
      const lastT = Math.max(...run.samples.filter((x) => x.phase === 'shuffle').map((x) => x.t));
      assert.equal(shuffle.endMs, Math.round(lastT), 'the open phase ends at its last sample');
      assert.ok(shuffle.endMs > shuffle.startMs);
      const g = await gate(out);
      assert.equal(g.code, 1, g.out);
      assert.doesNotMatch(g.out, /STABLE/);
      assert.match(g.out, /run ended killed/);
    } finally {
      s.runner.kill('SIGKILL');
    }
  });
});

test('a crash of the target: exit 2, status target-died, the manifest matches the disk, the model folder is removed', async () => {
  await withScenario(async (file, dir) => {
    const out = join(dir, 'run');
    const s = await startRun(file, out);
    try {
      await intoSteadyPhase(out);
      process.kill(s.serverPid, 'SIGKILL');
      const exit = await Promise.race([s.exit, new Promise((r) => setTimeout(() => r('timeout'), 30_000))]);
      assert.equal(exit, 2, s.stderr());
      const m = assertManifestMatchesDisk(out);
      assert.equal(m.status, 'target-died');
      assert.match(m.error!, /exited during phase 'shuffle'/);
      await assertNoOrphans(s);
      assert.equal((await gate(out)).code, 1);
    } finally {
      s.runner.kill('SIGKILL');
    }
  });
});
