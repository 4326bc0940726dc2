/**
 * `npm run bench:detection`: how honest the verdicts are on this machine. Runs the
 * default-sized scenarios N times at each arrival rate against spawned leaky and patched
 * servers, analyses each run and gates it against the default budget: leaky shuffled-input
 * must be flagged (overall LEAK) every time, patched shuffled-input and patched soak never,
 * and no patched run may fail the gate at any rate (a slower or faster load must not turn
 * time-driven drift into a false alarm). Prints each run, then one table per rate and case.
 *
 *   npm run bench:detection                                   # 10 runs per case at each scenario's own rate
 *   npm run bench:detection -- --rates 100,300,500 --runs 3   # the steady phases' rate overridden
 *   npm run bench:detection -- --rates 100,300,500 --modes patched  # the issue's rates figure: patched cases only
 *   options: --rates R1,R2… ('default' = the scenario's rate), --runs N (BENCH_RUNS, 10),
 *   --modes leaky,patched (the cases run; default both),
 *   --snapshots (take the scenarios' heap snapshots, as `gate --scenario` does; default off),
 *   --keep DIR (keep the run directories there; BENCH_KEEP=1 keeps them in the temp folder),
 *   --reanalyze DIR (no runs: analyse and gate the run directories a --keep left there again,
 *   e.g. after a change to the verdicts)
 */
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeRun } from '../../analyzer/analyze-run.js';
import { DEFAULT_BUDGET } from '../../analyzer/budget.js';
import { evaluateGate } from '../../analyzer/gate.js';
import { readRun } from '../../analyzer/run-reader.js';
import { runScenario } from '../../scenarios/runner.js';

const { values: args } = parseArgs({
  options: {
    rates: { type: 'string', default: 'default' },
    modes: { type: 'string', default: 'leaky,patched' },
    runs: { type: 'string', default: process.env.BENCH_RUNS ?? '10' },
    snapshots: { type: 'boolean', default: false },
    keep: { type: 'string' },
    reanalyze: { type: 'string' },
  },
});
const RUNS = Number(args.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) throw new Error(`--runs: expected a whole number ≥ 1, got "${args.runs}"`);
const RATES = args.rates.split(',').map((r) => {
  if (r === 'default') return undefined;
  const n = Number(r);
  if (!(n >= 0.1 && n <= 1_000_000))
    throw new Error(`--rates: expected numbers from 0.1 to 1000000 or "default", got "${r}"`);
  return n;
});
const ALL_CASES = [
  { scenario: 'shuffled-input', mode: 'leaky', expectLeak: true },
  { scenario: 'shuffled-input', mode: 'patched', expectLeak: false },
  { scenario: 'soak', mode: 'patched', expectLeak: false },
] as const;
const MODES = args.modes.split(',');
for (const m of MODES)
  if (m !== 'leaky' && m !== 'patched') throw new Error(`--modes: expected leaky and/or patched, got "${m}"`);
const CASES = ALL_CASES.filter((c) => MODES.includes(c.mode));

const keep = args.keep ? resolve(args.keep) : undefined;
const root = keep ?? (args.reanalyze ? resolve(args.reanalyze) : await mkdtemp(join(tmpdir(), 'leakscope-detection-')));
if (keep) await mkdir(keep, { recursive: true });
const keepRuns = keep !== undefined || args.reanalyze !== undefined || Boolean(process.env.BENCH_KEEP);

interface Tally {
  runs: number;
  flagged: number;
  gateFailed: number;
  /** Gate failures on data checks alone (exit 3: the sampler was starved, no leak or budget failed). */
  inconclusive: number;
  verdicts: Record<string, number>;
  seconds: number[];
}
const tally = new Map<string, Tally>();
const rateName = (r: number | undefined) => (r === undefined ? 'default' : `${r}/s`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
const runName = (c: (typeof CASES)[number], rate: number | undefined, i: number) =>
  `${c.scenario}-${c.mode}-${rate ?? 'default'}-${i}`;

/** Analyses and gates one run directory, prints its line and counts it. */
async function judge(dir: string, c: (typeof CASES)[number], rate: number | undefined, i: number, t0: number) {
  const key = `${rateName(rate)} ${c.scenario} ${c.mode}`;
  const run = readRun(dir);
  // The verdicts stand on the series; the heap analysis only names a culprit.
  const a = await analyzeRun(run, { heap: false });
  const g = evaluateGate(a, DEFAULT_BUDGET);
  const s = (performance.now() - t0) / 1000;
  const flagged = a.overall.verdict === 'LEAK';
  const t = tally.get(key) ?? { runs: 0, flagged: 0, gateFailed: 0, inconclusive: 0, verdicts: {}, seconds: [] };
  t.runs++;
  if (flagged) t.flagged++;
  if (g.outcome === 'fail') t.gateFailed++;
  if (g.outcome === 'inconclusive') t.inconclusive++;
  t.verdicts[a.overall.verdict] = (t.verdicts[a.overall.verdict] ?? 0) + 1;
  t.seconds.push(s);
  tally.set(key, t);
  const ok = flagged === c.expectLeak && (c.expectLeak || g.outcome !== 'fail') ? 'as expected' : 'WRONG';
  const failed = g.checks.filter((x) => x.status === 'fail').map((x) => x.id);
  console.log(
    `run ${String(i).padStart(2)} ${key.padEnd(32)} ${a.overall.verdict.padEnd(17)} ${ok.padEnd(11)} gate ${g.pass ? 'pass' : `${g.outcome === 'fail' ? 'FAIL' : 'INCONCLUSIVE'} (${failed.join(', ')})`}; leaking: ${a.overall.leaking.join(', ') || '–'} (${s.toFixed(0)} s, ${run.manifest.status})`,
  );
}

console.log(
  `leakscope bench:detection — ${args.reanalyze ? `run directories in ${root} analysed again` : `${RUNS} default-sized run(s) per case`} at rate(s) ${RATES.map(rateName).join(', ')}${args.snapshots ? ', with heap snapshots' : ''}; a run is "flagged" when its overall verdict is LEAK, and gated against the default budget\n`,
);
try {
  for (let i = 1; i <= RUNS; i++) {
    for (const rate of RATES) {
      for (const c of CASES) {
        const t0 = performance.now();
        const dir = join(root, runName(c, rate, i));
        if (args.reanalyze) {
          if (existsSync(join(dir, 'manifest.json'))) await judge(dir, c, rate, i, t0);
          continue;
        }
        const out = await runScenario({
          scenario: c.scenario,
          target: { kind: 'spawn', mode: c.mode },
          out: dir,
          seed: i,
          snapshots: args.snapshots,
          ...(rate !== undefined ? { overrides: { rate } } : {}),
        });
        await judge(out.dir, c, rate, i, t0);
        if (!keepRuns) await rm(out.dir, { recursive: true, force: true });
      }
    }
  }
  if (args.reanalyze && !tally.size)
    console.log(
      `no run directories named like ${runName(CASES[0], RATES[0], 1)} in ${root}: ${readdirSync(root).slice(0, 5).join(', ')}`,
    );
  console.log(
    `\n${'rate'.padEnd(9)}${'case'.padEnd(24)}${'flagged'.padEnd(9)}${'expected'.padEnd(9)}${'gate fail'.padEnd(11)}${'inconcl.'.padEnd(10)}${'verdicts'.padEnd(34)}median s`,
  );
  for (const rate of RATES) {
    for (const c of CASES) {
      const t = tally.get(`${rateName(rate)} ${c.scenario} ${c.mode}`);
      if (!t) continue;
      const verdicts = Object.entries(t.verdicts)
        .map(([v, n]) => `${v} ${n}`)
        .join(', ');
      console.log(
        `${rateName(rate).padEnd(9)}${`${c.scenario} ${c.mode}`.padEnd(24)}${`${t.flagged}/${t.runs}`.padEnd(9)}${(c.expectLeak ? `${t.runs}/${t.runs}` : `0/${t.runs}`).padEnd(9)}${`${t.gateFailed}/${t.runs}`.padEnd(11)}${`${t.inconclusive}/${t.runs}`.padEnd(10)}${verdicts.padEnd(34)}${median(t.seconds).toFixed(0)}`,
      );
    }
  }
  console.log(
    '\nflagged: overall verdict LEAK; gate fail: the default budget failed, exit 1 (leaky runs are expected to fail it); inconcl.: only data checks failed, exit 3 (a starved sampler)',
  );
} finally {
  if (!keepRuns) await rm(root, { recursive: true, force: true });
  else console.log(`run directories kept in ${root}`);
}
