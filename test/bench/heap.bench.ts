/**
 * Heap analysis benchmark (not a test): `npm run bench:heap`.
 *
 * 1. A real V8 snapshot of a process holding ~1M executor-cache entries (Map of strings →
 *    small objects), analysed by leakscope (parse + summary + retained sizes) and by
 *    memlab's getFullHeapFromFile (which also computes dominators and retained sizes),
 *    each run in its own child process, alternating, medians of the runs; wall time and
 *    peak RSS (VmHWM) side by side with ratios, and the answers both give.
 *    Then, on the same file: the raw read throughput (`cat FILE > /dev/null`, the physical
 *    limit) beside leakscope's parse throughput (whole parse, and a micro-benchmark of the
 *    nodes and edges arrays alone, in memory, per CPU second: one core's speed), and
 *    semi-NCA (the analysis's dominators) against the iterative Cooper–Harvey–Kennedy ones.
 * 2. A synthetic snapshot of the same structure over 2 GB, written by streaming, checked
 *    first against a real V8 snapshot of that structure at a smaller size, then analysed.
 * The machine's load average is printed beside each figure: on a shared machine, read
 * the ratios and medians.
 * Snapshots go to a temporary folder that is deleted at the end.
 *
 * `node --test dist/test/` runs every file under a test/ folder, so this file does
 * nothing when started by the test runner.
 */
import { median } from './load-loop.js';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, open, readFile, rm, stat } from 'node:fs/promises';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { computeDominators } from '../../analyzer/heap/dominators.js';
import { computeDominatorsIterative } from './dominators-iterative.js';
import { analyzeRaw, analyzeSnapshot, type HeapAnalysis } from '../../analyzer/heap/heap-analysis.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { findKeys, parseSnapshotParallel } from '../../analyzer/heap/parallel-parse.js';
import { layoutFromHeader } from '../../analyzer/heap/snapshot-layout.js';
import { EdgeColumns, NodeColumns } from '../../analyzer/heap/snapshot-columns.js';
import { parseSnapshotFile } from '../../analyzer/heap/snapshot-parser.js';
import { NUMBERS_ONLY, SnapshotTokenizer } from '../../analyzer/heap/snapshot-tokenizer.js';
import { parseSnapshotStream } from '../../analyzer/heap/snapshot-parser.js';
import { chainSnapshot } from '../heap/fixtures.js';
import { summarizeHeap } from '../../analyzer/heap/summary.js';
import { cacheProgram, writeCacheSnapshot } from './synthetic-snapshot.js';

const SELF = fileURLToPath(import.meta.url);
const ENTRIES = Number(process.env['BENCH_HEAP_ENTRIES'] ?? 1_000_000);
const RUNS = Number(process.env['BENCH_HEAP_RUNS'] ?? 3);
/** BENCH_HEAP_BIG=0 skips part 2 (the >2 GB snapshot). */
const BIG = process.env['BENCH_HEAP_BIG'] !== '0';
const CHECK_ENTRIES = 100_000;
const BIG_BYTES = 2.1 * 2 ** 30;
const CHILD_FLAGS = ['--max-old-space-size=16384'];

interface Answers {
  nodes: number;
  totalSize: number;
  /** Retained size of the largest Map (the executor cache). */
  cacheRetained: number;
  entries: number;
}
interface ChildResult {
  ms: number;
  peakRssBytes: number;
  answers: Answers;
  phases?: Record<string, number>;
  /** Peak RSS within each phase (bytes), where the kernel can reset the peak (Linux). */
  phasePeaks?: Record<string, number>;
}
/** Figures of the throughput and dominator micro-benchmarks (one child run). */
interface MicroResult {
  /** Whole parse of the file (parseSnapshotFile): wall and CPU milliseconds. */
  parseMs: number;
  parseCpuMs: number;
  /** The nodes and edges arrays alone, tokenized into columns from memory. */
  numberBytes: number;
  numbersCpuMs: number;
  /** The same into columns already touched: the tokenizer alone. */
  numbersWarmCpuMs: number;
  numbersMs: number;
  semiNcaMs: number;
  iterativeMs: number;
}

const cpuMs = (u: NodeJS.CpuUsage): number => (u.user + u.system) / 1000;
const load = (): string => `load ${loadavg()[0]!.toFixed(1)}`;
const CHAIN_DEPTH = 30_000;

/** Both dominator algorithms on a chain of CHAIN_DEPTH links that share one object (CPU ms). */
async function chainDominators(): Promise<{ semiNca: number; iterative: number }> {
  async function* one(s: string): AsyncGenerator<Buffer> {
    yield Buffer.from(s);
  }
  const g = new HeapGraph(await parseSnapshotStream(one(chainSnapshot('right', CHAIN_DEPTH)), 'chain'));
  let c0 = process.cpuUsage();
  computeDominators(g);
  const semiNca = cpuMs(process.cpuUsage(c0));
  c0 = process.cpuUsage();
  computeDominatorsIterative(g);
  return { semiNca, iterative: cpuMs(process.cpuUsage(c0)) };
}

/** Peak resident set of this process, from /proc (VmHWM), else from resourceUsage. */
async function peakRss(): Promise<number> {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(await readFile('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // not Linux
  }
  return process.resourceUsage().maxRSS * 1024;
}

function leakscopeAnswers(a: HeapAnalysis): Answers {
  const { graph: g, classes } = a;
  const mapClass = classes.names.indexOf('Map');
  const entryClass = classes.names.indexOf('ExecutorEntry');
  let cacheRetained = 0;
  let entries = 0;
  for (let i = 0; i < g.nodeCount; i++) {
    const c = classes.classOf[i];
    if (c === mapClass && a.retained[i]! > cacheRetained) cacheRetained = a.retained[i]!;
    if (c === entryClass) entries++;
  }
  return { nodes: g.nodeCount, totalSize: a.retained[0]!, cacheRetained, entries };
}

/** VmHWM of this process now (bytes), or null where /proc is not there. */
function peakNow(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** Starts a new peak-RSS window (Linux: "5" to clear_refs resets VmHWM); false where it cannot. */
function resetPeak(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/**
 * The work of `analyzeSnapshot` + `summarizeHeap` (the same calls, parse split out so
 * that its peak is its own), with the peak RSS of each phase: the kernel's peak is reset
 * as each phase ends, so the whole run's peak is the largest phase peak.
 */
async function childLeakscope(file: string): Promise<ChildResult> {
  const phasePeaks: Record<string, number> = {};
  let windows = resetPeak();
  const phaseEnd = (phase: string): void => {
    const peak = peakNow();
    if (!windows || peak === null) return;
    phasePeaks[phase] = peak;
    windows = resetPeak();
  };
  const t0 = performance.now();
  const raw = await parseSnapshotParallel(file);
  const timings: Record<string, number> = { parse: performance.now() - t0 };
  phaseEnd('parse');
  const a = analyzeRaw(raw, { onProgress: (phase) => phaseEnd(phase) }, timings);
  const summary = summarizeHeap(a, { top: 20, topObjects: 10 });
  phaseEnd('summary');
  const ms = performance.now() - t0;
  const peaks = Object.values(phasePeaks);
  const peakRssBytes = windows && peaks.length === 5 ? Math.max(...peaks) : await peakRss();
  return {
    ms,
    peakRssBytes,
    answers: leakscopeAnswers(a),
    phases: { ...summary.timings },
    ...(peaks.length === 5 ? { phasePeaks } : {}),
  };
}

/** Byte range of the top-level `"nodes"` and `"edges"` arrays: from after the '[' up to the next key. */
async function numberSections(file: string): Promise<{ nodes: [number, number]; edges: [number, number] }> {
  const [nodesAt, edgesAt, traceAt] = await findKeys(file, 0, ['"nodes":[', '"edges":[', '"trace_function_infos":']);
  const end = traceAt >= 0 ? traceAt : (await findKeys(file, edgesAt!, ['"strings":[']))[0]!;
  return { nodes: [nodesAt! + 9, edgesAt!], edges: [edgesAt! + 9, end] };
}

async function readRange(file: string, [a, b]: [number, number]): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.allocUnsafe(b - a);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, a + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/**
 * Tokenizes one number array from memory (4 MB feeds, as the parser reads) into its
 * columns, twice: into new columns (their first touch costs page faults, which on a VM can
 * cost as much as the parse) and again into the same ones. CPU ms of each.
 */
function tokenizeNumbers(section: Buffer, key: 'nodes' | 'edges', header: unknown): [number, number] {
  const layout = layoutFromHeader(header, 'bench');
  const sink = key === 'nodes' ? new NodeColumns(layout) : new EdgeColumns(layout);
  return [0, 1].map(() => {
    const c0 = process.cpuUsage();
    sink.seek(0, 0);
    const tok = new SnapshotTokenizer({ ...NUMBERS_ONLY, numberSink: () => sink });
    tok.feed(Buffer.from(`{"${key}":[`));
    for (let i = 0; i < section.length; i += 4 << 20)
      tok.feed(section.subarray(i, Math.min(section.length, i + (4 << 20))));
    // The section ends at the next key: close the object there instead.
    tok.feed(Buffer.from('}'));
    tok.finish();
    return cpuMs(process.cpuUsage(c0));
  }) as [number, number];
}

async function childMicro(file: string): Promise<MicroResult> {
  const c0 = process.cpuUsage();
  let t0 = performance.now();
  const raw = await parseSnapshotFile(file);
  const parseMs = performance.now() - t0;
  const parseCpuMs = cpuMs(process.cpuUsage(c0));
  const g = new HeapGraph(raw);
  // Dominators, both algorithms, each building its own predecessor lists.
  t0 = performance.now();
  computeDominators(g);
  const semiNcaMs = performance.now() - t0;
  t0 = performance.now();
  computeDominatorsIterative(g);
  const iterativeMs = performance.now() - t0;
  const header = raw.layout.header;
  // Number arrays from memory, after the graph is gone (the sections are ~70% of the file).
  const ranges = await numberSections(file);
  let numberBytes = 0;
  let numbersCpuMs = 0;
  let numbersMs = 0;
  let numbersWarmCpuMs = 0;
  for (const key of ['nodes', 'edges'] as const) {
    // The bytes between '[' and the next key: the array, its ']' and the ',' after it.
    const text = await readRange(file, ranges[key]);
    const section = text.subarray(0, text.lastIndexOf(0x5d) + 1);
    numberBytes += section.length;
    t0 = performance.now();
    const [cold, warm] = tokenizeNumbers(section, key, header);
    numbersMs += performance.now() - t0;
    numbersCpuMs += cold;
    numbersWarmCpuMs += warm;
  }
  return { parseMs, parseCpuMs, numberBytes, numbersCpuMs, numbersWarmCpuMs, numbersMs, semiNcaMs, iterativeMs };
}

/** Wall milliseconds of `cat FILE > /dev/null`. */
function catMs(file: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn('cat', [file], { stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`cat exited ${code}`)),
    );
  });
}

async function childMemlab(file: string): Promise<ChildResult> {
  // Imported here so the leakscope children never load it.
  const { getFullHeapFromFile } = (await import('@memlab/heap-analysis')) as unknown as {
    getFullHeapFromFile(f: string): Promise<{
      nodes: {
        length: number;
        forEach(cb: (n: { name: string; type: string; retainedSize: number; self_size: number }) => void): void;
      };
    }>;
  };
  const t0 = performance.now();
  const heap = await getFullHeapFromFile(file);
  const ms = performance.now() - t0;
  let totalSize = 0;
  let cacheRetained = 0;
  let entries = 0;
  heap.nodes.forEach((n) => {
    totalSize += n.self_size;
    if (n.type === 'object' && n.name === 'Map' && n.retainedSize > cacheRetained) cacheRetained = n.retainedSize;
    if (n.name === 'ExecutorEntry' && n.type === 'object') entries++;
  });
  return {
    ms,
    peakRssBytes: await peakRss(),
    answers: { nodes: heap.nodes.length, totalSize, cacheRetained, entries },
  };
}

function runChild<T = ChildResult>(args: string[], quiet = true): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CHILD_FLAGS, SELF, ...args], {
      stdio: ['ignore', 'pipe', quiet ? 'pipe' : 'inherit'],
    });
    let out = '';
    let err = '';
    child.stdout!.on('data', (d) => (out += String(d)));
    child.stderr?.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('exit', (code) => {
      const line =
        out
          .trim()
          .split('\n')
          .pop()
          ?.replace(/^[^{]*/, '') ?? '';
      if (code !== 0 || !line.startsWith('{'))
        reject(new Error(`child ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`));
      else resolve(JSON.parse(line) as T);
    });
  });
}

function runProgramFile(source: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--max-old-space-size=16384', '-e', source], {
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      code === 0 ? resolve(performance.now() - t0) : reject(new Error(`snapshot program exited ${code}`)),
    );
  });
}

const mb = (b: number): string => `${(b / 2 ** 20).toFixed(0)} MB`;
const mbps = (bytes: number, ms: number): string => `${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MB/s`;

const secs = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const n0 = (x: number): string => x.toLocaleString('en-US');
const row = (cells: string[], widths: number[]): string =>
  cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');

async function bench(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'leakscope-bench-heap-'));
  const log = (s = ''): void => void process.stdout.write(`${s}\n`);
  try {
    log(
      `leakscope heap benchmark — node ${process.version}, ${cpus().length} CPUs, ${mb(totalmem())} RAM; temp ${dir}`,
    );

    // 1. Real snapshot, both tools.
    const real = join(dir, 'cache-real.heapsnapshot');
    const genMs = await runProgramFile(cacheProgram(ENTRIES, real));
    const realBytes = (await stat(real)).size;
    log(
      `snapshot: real V8 (v8.writeHeapSnapshot) of a process holding ${n0(ENTRIES)} Map entries: ${mb(realBytes)} (written in ${secs(genMs)})`,
    );
    const ls: ChildResult[] = [];
    const ml: ChildResult[] = [];
    for (let r = 0; r < RUNS; r++) {
      // Alternate the order so neither tool always runs on a warmer page cache.
      const order: ['leakscope' | 'memlab', ChildResult[]][] =
        r % 2 === 0
          ? [
              ['leakscope', ls],
              ['memlab', ml],
            ]
          : [
              ['memlab', ml],
              ['leakscope', ls],
            ];
      for (const [tool, into] of order) {
        const res = await runChild(['--child', tool, real]);
        into.push(res);
        log(
          `  run ${r + 1} ${tool.padEnd(9)} ${secs(res.ms).padStart(9)}  peak RSS ${mb(res.peakRssBytes).padStart(8)}  (${load()})${
            res.phases
              ? `  (${Object.entries(res.phases)
                  .map(([k, v]) => `${k} ${(v / 1000).toFixed(2)}`)
                  .join(', ')})`
              : ''
          }`,
        );
      }
    }
    const lt = median(ls.map((x) => x.ms));
    const mt = median(ml.map((x) => x.ms));
    const lr = median(ls.map((x) => x.peakRssBytes));
    const mr = median(ml.map((x) => x.peakRssBytes));
    const w = [34, 12, 12, 28];
    log();
    log(row(['full analysis, median of ' + RUNS, 'leakscope', 'memlab', 'ratio'], w));
    log(row(['wall time', secs(lt), secs(mt), `memlab/leakscope = ${(mt / lt).toFixed(2)}×`], w));
    log(row(['peak RSS', mb(lr), mb(mr), `leakscope/memlab = ${(lr / mr).toFixed(2)}`], w));
    const la = ls[0]!.answers;
    const ma = ml[0]!.answers;
    log(row(['nodes', n0(la.nodes), n0(ma.nodes), la.nodes === ma.nodes ? 'same' : 'DIFFERENT'], w));
    log(
      row(
        ['ExecutorEntry objects', n0(la.entries), n0(ma.entries), la.entries === ma.entries ? 'same' : 'DIFFERENT'],
        w,
      ),
    );
    log(
      row(
        [
          'heap size (sum of self sizes)',
          mb(la.totalSize),
          mb(ma.totalSize),
          la.totalSize === ma.totalSize ? 'same' : 'DIFFERENT',
        ],
        w,
      ),
    );
    log(
      row(
        [
          'retained by the cache Map',
          n0(la.cacheRetained),
          n0(ma.cacheRetained),
          la.cacheRetained === ma.cacheRetained
            ? 'same'
            : `differ by ${(((la.cacheRetained - ma.cacheRetained) / ma.cacheRetained) * 100).toFixed(2)}%`,
        ],
        w,
      ),
    );
    const phaseNames = Object.keys(ls[0]!.phases ?? {});
    log(
      `leakscope phases, median: ${phaseNames.map((k) => `${k} ${secs(median(ls.map((x) => x.phases?.[k] ?? Number.NaN)))}`).join(', ')}`,
    );
    if (ls.every((x) => x.phasePeaks))
      log(
        `leakscope peak RSS by phase, median: ${Object.keys(ls[0]!.phasePeaks!)
          .map((k) => `${k} ${mb(median(ls.map((x) => x.phasePeaks![k]!)))}`)
          .join(', ')} (memlab's whole run: ${mb(mr)})`,
      );
    log(
      `goal ≥10× faster: ${mt / lt >= 10 ? 'met' : 'NOT met'} (${(mt / lt).toFixed(2)}×); goal ≤0.30 of memlab's peak RSS: ${lr / mr <= 0.3 ? 'met' : 'NOT met'} (${(lr / mr).toFixed(2)}); ${load()}`,
    );

    // Throughput against the physical limit, and the two dominator algorithms.
    log();
    const cats: number[] = [];
    const micro: MicroResult[] = [];
    for (let r = 0; r < RUNS; r++) {
      cats.push(await catMs(real));
      const m = await runChild<MicroResult>(['--child', 'micro', real]);
      micro.push(m);
      log(
        `  run ${r + 1} cat ${mbps(realBytes, cats[r]!)}; parse ${mbps(realBytes, m.parseMs)} wall, ${mbps(realBytes, m.parseCpuMs)} per CPU s; nodes+edges arrays ${mbps(m.numberBytes, m.numbersWarmCpuMs)} per CPU s (${mbps(m.numberBytes, m.numbersCpuMs)} into new columns); dominators semi-NCA ${secs(m.semiNcaMs)}, iterative ${secs(m.iterativeMs)}  (${load()})`,
      );
    }
    const catMed = median(cats);
    const numbersRate = (m: MicroResult): number => m.numberBytes / 2 ** 20 / (m.numbersWarmCpuMs / 1000);
    const numbersColdRate = (m: MicroResult): number => m.numberBytes / 2 ** 20 / (m.numbersCpuMs / 1000);
    const w2 = [44, 14, 30];
    log(row([`throughput on ${mb(realBytes)}, median of ${RUNS}`, 'MB/s', 'of cat (the physical limit)'], w2));
    const rate = (bytes: number, ms: number): number => bytes / 2 ** 20 / (ms / 1000);
    const catRate = rate(realBytes, catMed);
    for (const [label, r] of [
      ['cat FILE > /dev/null (wall)', catRate],
      ['leakscope parse, whole file (wall)', rate(realBytes, median(micro.map((m) => m.parseMs)))],
      ['leakscope parse, whole file (per CPU s)', rate(realBytes, median(micro.map((m) => m.parseCpuMs)))],
      ['nodes+edges arrays, one core (per CPU s)', median(micro.map((m) => numbersRate(m)))],
      ['  the same into new columns (+ page faults)', median(micro.map((m) => numbersColdRate(m)))],
    ] as [string, number][]) {
      log(row([label, r.toFixed(0), `${((r / catRate) * 100).toFixed(0)}%`], w2));
    }
    const nr = median(micro.map((m) => numbersRate(m)));
    log(
      `goal: nodes+edges arrays ≥ 400 MB/s on one core: ${nr >= 400 ? 'met' : 'NOT met'} (${nr.toFixed(0)} MB/s; ${load()})`,
    );
    const sncaMs = median(micro.map((m) => m.semiNcaMs));
    const itMs = median(micro.map((m) => m.iterativeMs));
    log(
      `dominators, median of ${RUNS}: semi-NCA ${secs(sncaMs)}, Cooper–Harvey–Kennedy iterative ${secs(itMs)}: iterative/semi-NCA = ${(itMs / sncaMs).toFixed(2)}`,
    );
    const chain = await chainDominators();
    log(
      `dominators on a ${n0(CHAIN_DEPTH)}-link chain sharing one object (CPU): semi-NCA ${secs(chain.semiNca)}, iterative ${secs(chain.iterative)}: iterative/semi-NCA = ${(chain.iterative / chain.semiNca).toFixed(1)}; ${load()}`,
    );
    await rm(real, { force: true });

    if (!BIG) return;
    // 2. Synthetic snapshot: check it against a real one of the same structure, then >2 GB.
    const small = join(dir, 'cache-small-real.heapsnapshot');
    await runProgramFile(cacheProgram(CHECK_ENTRIES, small));
    const realSmall = await analyzeSnapshot(small);
    const shape = measuredShape(realSmall, CHECK_ENTRIES);
    const synthSmall = join(dir, 'cache-small-synthetic.heapsnapshot');
    const smallBytes = await writeCacheSnapshot(synthSmall, realSmall.graph.header, shape);
    const synthSmallA = await analyzeSnapshot(synthSmall);
    const r1 = leakscopeAnswers(realSmall);
    const s1 = leakscopeAnswers(synthSmallA);
    const pathOf = (a: HeapAnalysis): string =>
      summarizeHeap(a, { top: 1, topObjects: 3 }).topObjects.find((o) => o.className === 'Map')?.path ?? '(none)';
    log();
    log(
      `synthetic writer check at ${n0(CHECK_ENTRIES)} entries (real V8 snapshot vs synthetic of the same structure, both parsed by leakscope):`,
    );
    log(`  file size           real ${mb((await stat(small)).size)}, synthetic ${mb(smallBytes)}`);
    log(`  ExecutorEntry       real ${n0(r1.entries)}, synthetic ${n0(s1.entries)}`);
    log(
      `  cache Map retains   real ${n0(r1.cacheRetained)} B, synthetic ${n0(s1.cacheRetained)} B (${(((s1.cacheRetained - r1.cacheRetained) / r1.cacheRetained) * 100).toFixed(2)}%)`,
    );
    log(`  path to the Map     real: ${pathOf(realSmall)}`);
    log(`                      synthetic: ${pathOf(synthSmallA)}`);
    const ok = r1.entries === s1.entries && Math.abs(s1.cacheRetained - r1.cacheRetained) / r1.cacheRetained < 0.05;
    log(`  check: ${ok ? 'OK' : 'MISMATCH'}`);
    await rm(small, { force: true });
    await rm(synthSmall, { force: true });

    const bigEntries = Math.ceil((BIG_BYTES / smallBytes) * CHECK_ENTRIES);
    const big = join(dir, 'cache-big-synthetic.heapsnapshot');
    const tw = performance.now();
    const bigBytes = await writeCacheSnapshot(
      big,
      realSmall.graph.header,
      measuredShape(realSmall, CHECK_ENTRIES, bigEntries),
    );
    log();
    log(
      `>2 GB snapshot: synthetic, ${n0(bigEntries)} entries, ${(bigBytes / 2 ** 30).toFixed(2)} GB (${n0(bigBytes)} bytes), written in ${secs(performance.now() - tw)}`,
    );
    const b = await runChild(['--child', 'leakscope', big]);
    log(
      `  leakscope full analysis: ${secs(b.ms)}, peak RSS ${mb(b.peakRssBytes)} (${((b.peakRssBytes / bigBytes) * 100).toFixed(0)}% of the file size); ${n0(b.answers.nodes)} nodes, ${n0(b.answers.entries)} ExecutorEntry, cache Map retains ${mb(b.answers.cacheRetained)}; ${load()}`,
    );
    log(
      `  goal ≤ 20 s: ${b.ms <= 20_000 ? 'met' : 'NOT met'}; goal peak RSS ≤ 1.0 × file size: ${b.peakRssBytes <= bigBytes ? 'met' : 'NOT met'}`,
    );
    log(
      `  phases: ${Object.entries(b.phases ?? {})
        .map(([k, v]) => `${k} ${secs(v)}${b.phasePeaks?.[k] ? ` (peak ${mb(b.phasePeaks[k])})` : ''}`)
        .join(', ')}`,
    );
    await rm(big, { force: true });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Sizes for the synthetic writer, taken from a real snapshot of the same cache. */
function measuredShape(
  a: HeapAnalysis,
  measuredEntries: number,
  entries = measuredEntries,
): Parameters<typeof writeCacheSnapshot>[2] {
  const { graph: g, classes } = a;
  const entryClass = classes.names.indexOf('ExecutorEntry');
  let entrySelf = 0;
  let map = -1;
  for (let i = 0; i < g.nodeCount; i++) {
    if (classes.classOf[i] === entryClass) entrySelf = g.selfSize[i]!;
    if (g.typeName(i) === 'object' && g.name(i) === 'Map' && (map < 0 || a.retained[i]! > a.retained[map]!)) map = i;
  }
  let tableSelf = 0;
  for (let e = g.firstEdge[map]!; e < g.firstEdge[map + 1]!; e++)
    if (g.edgeName(e) === 'table') tableSelf = g.selfSize[g.edgeTo[e]!]!;
  // The table grows with the entry count (power-of-two capacity); scale per entry.
  return {
    entries,
    entrySelf,
    mapSelf: g.selfSize[map]!,
    tableSelf: Math.round((tableSelf / measuredEntries) * entries),
  };
}

if (process.env['NODE_TEST_CONTEXT']) {
  // Started by `node --test`: this is not a test.
} else if (process.argv[2] === '--child') {
  const [tool, file] = process.argv.slice(3);
  const res =
    tool === 'memlab'
      ? await childMemlab(file!)
      : tool === 'micro'
        ? await childMicro(file!)
        : await childLeakscope(file!);
  process.stdout.write(`\n${JSON.stringify(res)}\n`);
} else {
  await bench();
}
