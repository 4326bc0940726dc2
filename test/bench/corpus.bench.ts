/**
 * `npm run bench:corpus`: leakscope against small Node services it has never seen, as a
 * user would point it at their own. Each program in test/corpus/ (header: expected verdict,
 * leaking series, culprit, allocating line) is started with --inspect on loopback, driven
 * by `leakscope run test/corpus/corpus.yaml --http … --inspect … --pid …` and judged by
 * `leakscope gate` (both as child processes, the CLI a user runs). Prints one row per
 * program, then the detection rate, the STABLE rate on clean programs, culprit accuracy,
 * the culprit-with-file:line rate and the wall time.
 *   --only NAME[,NAME…]   run only these programs (e.g. --only leak-buffers,clean-lru)
 *   BENCH_KEEP=1          keep the run directories (default: deleted)
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Analysis } from '../../common/analysis-format.js';
import { packageRoot } from '../../common/package-root.js';
import { CORPUS_SCENARIO, corpusPrograms, startCorpusProgram, type CorpusProgram } from '../helpers/corpus.js';

const CLI = join(packageRoot(), 'bin', 'leakscope.js');
/** One program's run and gate together may not take longer than this. */
const PER_PROGRAM_TIMEOUT_MS = 180_000;

function onlyFilter(argv: readonly string[]): Set<string> | null {
  const i = argv.indexOf('--only');
  if (i < 0) return null;
  const v = argv[i + 1];
  if (!v || v.startsWith('--')) throw new Error('--only: expected NAME[,NAME…] of corpus programs');
  return new Set(v.split(','));
}

async function cli(args: readonly string[], deadline: number): Promise<{ code: number; out: string; err: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const handle = { stop: async () => void child.kill('SIGKILL') };
  running.add(handle);
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (err += d));
  const t = setTimeout(() => child.kill('SIGKILL'), Math.max(1000, deadline - Date.now()));
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(t);
  running.delete(handle);
  return { code: code ?? (signal ? 128 : 1), out, err };
}

interface Row {
  readonly p: CorpusProgram;
  readonly verdict: string;
  readonly leaked: readonly string[];
  readonly culprit: string;
  readonly sourceLine: string;
  readonly gateExit: number | string;
  readonly seconds: number;
  readonly detected: boolean;
  readonly culpritRight: boolean;
  readonly siteRight: boolean;
}

/**
 * The first file:line a culprit's code names (its `source`). Not its paths: every path in
 * this Node starts at Node's timer lists and passes the request handler, whose closures
 * carry file:line too — the route, not the site the tool claims.
 */
const sourceLineOf = (culprit: Analysis['overall']['culprit']): string | null =>
  /([\w.-]+\.[cm]?js):(\d+)/
    .exec(culprit?.source ?? '')
    ?.slice(1, 3)
    .join(':') ?? null;

async function runOne(p: CorpusProgram, root: string): Promise<Row> {
  const t0 = performance.now();
  const deadline = Date.now() + PER_PROGRAM_TIMEOUT_MS;
  const dir = join(root, p.name);
  const prog = await startCorpusProgram(p);
  running.add(prog);
  let gateExit: number | string = '–';
  let a: Analysis | null = null;
  try {
    const run = await cli(
      ['run', CORPUS_SCENARIO, '--http', prog.http, '--inspect', prog.inspect, '--pid', String(prog.pid), '--out', dir],
      deadline,
    );
    if (run.code !== 0) {
      gateExit = `run exit ${run.code}`;
      console.error(`  ${p.name}: run failed: ${run.err.trim().split('\n').slice(-3).join(' | ')}`);
    } else {
      const gate = await cli(['gate', dir, '--json'], deadline);
      gateExit = gate.code;
      if (existsSync(join(dir, 'analysis.json')))
        a = JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8')) as Analysis;
      else console.error(`  ${p.name}: gate wrote no analysis: ${gate.err.trim().split('\n').slice(-3).join(' | ')}`);
    }
  } finally {
    await prog.stop();
    running.delete(prog);
  }
  const verdict = a?.overall.verdict ?? 'ERROR';
  const c = a?.overall.culprit ?? null;
  const culprit = c ? `${c.className} held by ${c.heldBy}` : '–';
  const sourceLine = sourceLineOf(c) ?? '–';
  const detected = p.expect === 'LEAK' ? verdict === 'LEAK' : verdict === 'STABLE';
  // What the culprit names: its class, holder and code, and the headline (thread leaks are
  // named there). Not its retainer paths, which all pass Node's timer list (`Timeout`).
  const named = c ? `${c.className} ${c.heldBy} ${c.source ?? ''} ${a?.overall.headline ?? ''}` : '';
  const culpritRight = p.culprit ? verdict === 'LEAK' && p.culprit.test(named) : c === null;
  return {
    p,
    verdict,
    leaked: a?.overall.leaking ?? [],
    culprit,
    sourceLine,
    gateExit,
    seconds: (performance.now() - t0) / 1000,
    detected,
    culpritRight,
    siteRight: p.site !== null && sourceLine === p.site,
  };
}

const cut = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s).padEnd(n);
const rate = (k: number, n: number) => (n ? `${k}/${n} (${Math.round((100 * k) / n)} %)` : '–');

const only = onlyFilter(process.argv.slice(2));
const all = corpusPrograms();
if (only) {
  const unknown = [...only].filter((n) => !all.some((p) => p.name === n));
  if (unknown.length) {
    console.error(`--only: no corpus program ${unknown.join(', ')} (known: ${all.map((p) => p.name).join(', ')})`);
    process.exit(2);
  }
}
const programs = only ? all.filter((p) => only.has(p.name)) : all;
// Ctrl-C or a kill ends the program under test and the run with the bench (they are its children).
const running = new Set<{ stop(): Promise<void> }>();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => {
    void Promise.all([...running].map((r) => r.stop())).finally(() => process.exit(130));
  });
const root = await mkdtemp(join(tmpdir(), 'leakscope-corpus-'));
const wall0 = performance.now();
const rows: Row[] = [];
console.log(
  `leakscope bench:corpus — ${programs.length} programs, each started with --inspect and run through \`leakscope run ${join('test', 'corpus', 'corpus.yaml')} --http --inspect --pid\`, then \`leakscope gate\`\n`,
);
const header = `${'program'.padEnd(20)}${'expected'.padEnd(9)}${'verdict'.padEnd(18)}${'series that leaked'.padEnd(40)}${'culprit'.padEnd(46)}${'source line'.padEnd(36)}gate  time`;
console.log(header);
try {
  for (const p of programs) {
    let r: Row;
    try {
      r = await runOne(p, root);
    } catch (e) {
      console.error(`  ${p.name}: ${(e as Error).message}`);
      r = {
        p,
        verdict: 'ERROR',
        leaked: [],
        culprit: '–',
        sourceLine: '–',
        gateExit: '–',
        seconds: 0,
        detected: false,
        culpritRight: false,
        siteRight: false,
      };
    }
    rows.push(r);
    console.log(
      `${cut(p.name, 20)}${p.expect.padEnd(9)}${`${r.verdict}${r.detected ? '' : ' ✗'}`.padEnd(18)}${cut(r.leaked.join(', ') || '–', 40)}${cut(`${r.culprit}${p.culprit && !r.culpritRight ? ' ✗' : ''}`, 46)}${cut(`${r.sourceLine}${p.site && !r.siteRight ? ` (want ${p.site})` : ''}`, 36)}${String(r.gateExit).padEnd(6)}${r.seconds.toFixed(0)} s`,
    );
    if (!process.env.BENCH_KEEP) await rm(join(root, p.name), { recursive: true, force: true });
  }
  const leaks = rows.filter((r) => r.p.expect === 'LEAK');
  const clean = rows.filter((r) => r.p.expect === 'STABLE');
  const seriesRight = leaks.filter((r) => r.p.series.every((s) => r.leaked.includes(s)));
  console.log('');
  console.log(
    `detection rate (leaks read LEAK)            ${rate(leaks.filter((r) => r.detected).length, leaks.length)}`,
  );
  console.log(`expected series among those leaking         ${rate(seriesRight.length, leaks.length)}`);
  console.log(
    `STABLE rate on clean programs               ${rate(clean.filter((r) => r.detected).length, clean.length)}`,
  );
  console.log(
    `no culprit printed on clean programs        ${rate(clean.filter((r) => r.culpritRight).length, clean.length)}`,
  );
  console.log(
    `culprit accuracy (leaks, right structure)   ${rate(leaks.filter((r) => r.culpritRight).length, leaks.length)}`,
  );
  console.log(
    `culprit with the right file:line            ${rate(leaks.filter((r) => r.siteRight).length, leaks.length)}`,
  );
  console.log(
    `gate exit 1 on leaks / 0 on clean           ${rate(leaks.filter((r) => r.gateExit === 1).length, leaks.length)} / ${rate(clean.filter((r) => r.gateExit === 0).length, clean.length)}`,
  );
  console.log(
    `wall time                                   ${((performance.now() - wall0) / 1000).toFixed(0)} s (median ${median(rows.map((r) => r.seconds)).toFixed(0)} s per program; machine shared and loaded)`,
  );
  if (process.env.BENCH_KEEP) console.log(`run directories kept in ${root}`);
} finally {
  if (!process.env.BENCH_KEEP) await rm(root, { recursive: true, force: true });
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[(s.length - 1) >> 1]! + s[s.length >> 1]!) / 2 : 0;
}
