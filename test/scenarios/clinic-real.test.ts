/**
 * `run --clinic doctor|heapprofiler` against the real Clinic.js (the pinned devDependency, or
 * $LEAKSCOPE_CLINIC): the run waits for Clinic's analysis, the report it links is whole, and
 * nothing is left running — not even when the runner is killed. Skipped, saying so, when
 * Clinic.js is not installed.
 *
 * Cost: Clinic analyses and bundles its report after the server exits — about 10–30 s per
 * run on a loaded 2-core machine; the load itself is one second of 30 Predicts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../common/package-root.js';
import { CLINIC_TOOLS, checkClinicHtml, findClinic } from '../../scenarios/clinic.js';
import { runScenario } from '../../scenarios/runner.js';
import { alive, processesMentioning, until } from '../helpers/processes.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const install = findClinic();
const skip = install
  ? false
  : process.env.LEAKSCOPE_CLINIC
    ? `LEAKSCOPE_CLINIC names ${process.env.LEAKSCOPE_CLINIC}, which does not exist`
    : 'Clinic.js is not installed: `npm ci` installs it (devDependency clinic@13.0.0), or set LEAKSCOPE_CLINIC';

const traceLogs = () => readdirSync(process.cwd()).filter((f) => /^node_trace\.\d+\.log$/.test(f));

for (const tool of CLINIC_TOOLS) {
  test(`--clinic ${tool} with the real Clinic.js: the run waits for its report, which is whole and linked`, {
    skip,
    timeout: 300_000,
  }, async () => {
    await withTmpDir(`leakscope-clinic-${tool}-`, async (dir) => {
      const scenario = join(dir, 's.json');
      await writeFile(
        scenario,
        JSON.stringify({
          name: 'tiny',
          sampleIntervalMs: 200,
          phases: [{ name: 'steady', requests: 30, rate: 30, steady: true }],
        }),
      );
      const logsBefore = traceLogs();
      const events: string[] = [];
      const out = await runScenario({
        scenario,
        target: { kind: 'spawn', mode: 'leaky' },
        out: join(dir, 'run'),
        clinic: tool,
        onEvent: (l) => events.push(l),
      });
      const m = out.manifest;
      assert.equal(m.status, 'complete', m.error);
      // Served under Clinic (a loaded machine may time some Predicts out: the load is not what is tested).
      assert.equal(out.results[0]!.sent + out.results[0]!.dropped, 30);
      assert.ok((out.results[0]!.statusCounts.OK ?? 0) > 0, JSON.stringify(out.results[0]!.statusCounts));
      assert.equal(m.clinic?.status, 'complete', `${m.clinic?.error}\n${events.join('\n')}`);
      assert.equal(m.clinic.tool, tool);
      assert.equal(m.clinic.version, install?.version);
      const pid = m.target.kind === 'spawned' ? m.target.pid : 0;
      assert.equal(m.artifacts?.clinic, `clinic/${pid}.clinic-${tool}.html`);
      const html = join(out.dir, m.artifacts!.clinic!);
      const check = checkClinicHtml(html, tool);
      assert.ok(check.ok, check.ok ? '' : check.reason);
      assert.equal(m.clinic.bytes, check.bytes);
      assert.ok(check.bytes > 100_000, `${check.bytes} bytes`);
      if (tool === 'doctor') {
        // Samples of the server, every 10 ms while it ran, from one sampler (the main thread's).
        const data = JSON.parse(
          /<script type="application\/json" id="clinic-data">([\s\S]*?)<\/script>/.exec(
            readFileSync(html, 'utf8'),
          )![1]!,
        ) as { processStat: unknown[] };
        assert.ok(data.processStat.length >= 50, `${data.processStat.length} process samples`);
      }
      assert.ok(
        events.some((l) => l.startsWith(`Clinic.js ${tool} report (`)),
        events.join('\n'),
      );
      // Nothing left behind: no server, no Clinic, no trace log in the working folder.
      assert.equal(alive(pid), false);
      assert.deepEqual(processesMentioning(dir), []);
      assert.deepEqual(traceLogs(), logsBefore);
    });
  });
}

/** A runner stand-in: spawns the server under Clinic the way a run does, prints its pid, and waits. */
const PARENT = `
import { spawnReferenceServer } from ${JSON.stringify(join(packageRoot(), 'dist', 'scenarios', 'targets.js'))};
import { clinicCommand } from ${JSON.stringify(join(packageRoot(), 'dist', 'scenarios', 'clinic.js'))};
const c = clinicCommand('heapprofiler', process.argv[1]);
const t = await spawnReferenceServer({ mode: 'leaky', diagnosticsDir: process.argv[2], wrapper: c.wrapper, wrapperCwd: c.cwd, env: c.env });
console.log(JSON.stringify({ pid: t.pid }));
setInterval(() => {}, 1000);
`;

test('SIGKILL of a runner whose server runs under Clinic Heap Profiler (no stdin pipe): the server goes within seconds, Clinic after it', {
  skip,
  timeout: 300_000,
}, async () => {
  await withTmpDir('leakscope-clinic-orphan-', async (dir) => {
    const parent = spawn(process.execPath, ['--input-type=module', '-e', PARENT, dir, join(dir, 'snaps')], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let pid = 0;
    try {
      pid = await new Promise<number>((resolve, reject) => {
        parent.once('exit', (code) => reject(new Error(`the parent exited early (${code})`)));
        createInterface({ input: parent.stdout! }).once('line', (l) => resolve((JSON.parse(l) as { pid: number }).pid));
      });
      assert.ok(alive(pid));
      parent.kill('SIGKILL');
      await until('the server to exit', 10_000, () => !alive(pid));
      // Clinic then writes what it collected and exits by itself.
      await until('Clinic.js to exit', 180_000, () => processesMentioning(dir).length === 0);
    } finally {
      parent.kill('SIGKILL');
      for (const p of processesMentioning(dir)) process.kill(p, 'SIGKILL');
    }
  });
});
