/**
 * `npm run bench:detection`: how honest the verdicts are on this machine. Runs the
 * default-sized scenarios N times (BENCH_RUNS, default 10) against spawned leaky and
 * patched servers and counts how often each run's overall verdict is LEAK:
 * leaky shuffled-input must be flagged every time, patched shuffled-input and patched
 * soak never. Prints each run's verdict and leaking series, then the rates.
 *   BENCH_RUNS (10), BENCH_KEEP=1 keeps the run directories (default: deleted)
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeRun } from '../../analyzer/analyze-run.js';
import { readRun } from '../../analyzer/run-reader.js';
import { runScenario } from '../../scenarios/runner.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const CASES = [
  { scenario: 'shuffled-input', mode: 'leaky', expectLeak: true },
  { scenario: 'shuffled-input', mode: 'patched', expectLeak: false },
  { scenario: 'soak', mode: 'patched', expectLeak: false },
] as const;

const root = await mkdtemp(join(tmpdir(), 'leakscope-detection-'));
const tally = new Map<string, { flagged: number; runs: number; seconds: number[] }>();
console.log(
  `leakscope bench:detection — ${RUNS} default-sized runs per case; a run is "flagged" when its overall verdict is LEAK\n`,
);
try {
  for (let i = 1; i <= RUNS; i++) {
    for (const c of CASES) {
      const key = `${c.scenario} ${c.mode}`;
      const t0 = performance.now();
      const out = await runScenario({
        scenario: c.scenario,
        target: { kind: 'spawn', mode: c.mode },
        out: join(root, `${c.scenario}-${c.mode}-${i}`),
        seed: i,
        snapshots: false,
      });
      const a = await analyzeRun(readRun(out.dir));
      const s = (performance.now() - t0) / 1000;
      const flagged = a.overall.verdict === 'LEAK';
      const t = tally.get(key) ?? { flagged: 0, runs: 0, seconds: [] };
      t.runs++;
      if (flagged) t.flagged++;
      t.seconds.push(s);
      tally.set(key, t);
      const ok = flagged === c.expectLeak ? 'as expected' : 'WRONG';
      console.log(
        `run ${String(i).padStart(2)} ${key.padEnd(24)} ${a.overall.verdict.padEnd(17)} ${ok.padEnd(11)} leaking: ${a.overall.leaking.join(', ') || '–'} (${s.toFixed(0)} s, ${out.manifest.status})`,
      );
      if (!process.env.BENCH_KEEP) await rm(out.dir, { recursive: true, force: true });
    }
  }
  console.log('\ncase                      flagged   expected');
  for (const c of CASES) {
    const t = tally.get(`${c.scenario} ${c.mode}`)!;
    console.log(
      `${`${c.scenario} ${c.mode}`.padEnd(26)}${`${t.flagged}/${t.runs}`.padEnd(10)}${c.expectLeak ? `${t.runs}/${t.runs} (detections)` : `0/${t.runs} (false alarms)`}`,
    );
  }
} finally {
  if (!process.env.BENCH_KEEP) await rm(root, { recursive: true, force: true });
}
