/**
 * Heap analysis benchmark (not a test): `npm run bench:heap`.
 *
 * 1. A real V8 snapshot of a process holding ~1M executor-cache entries (Map of strings →
 *    small objects), analysed by leakscope (parse + summary + retained sizes) and by
 *    memlab's getFullHeapFromFile (which also computes dominators and retained sizes),
 *    each run in its own child process, alternating, medians of the runs; wall time and
 *    peak RSS (VmHWM) side by side with ratios, and the answers both give.
 * 2. A synthetic snapshot of the same structure over 2 GB, written by streaming, checked
 *    first against a real V8 snapshot of that structure at a smaller size, then analysed.
 * Snapshots go to a temporary folder that is deleted at the end.
 *
 * `node --test dist/test/` runs every file under a test/ folder, so this file does
 * nothing when started by the test runner.
 */
import { median } from './load-loop.js';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeSnapshot, type HeapAnalysis } from '../../analyzer/heap/heap-analysis.js';
import { summarizeHeap } from '../../analyzer/heap/summary.js';
import { cacheProgram, writeCacheSnapshot } from './synthetic-snapshot.js';

const SELF = fileURLToPath(import.meta.url);
const ENTRIES = Number(process.env['BENCH_HEAP_ENTRIES'] ?? 1_000_000);
const RUNS = Number(process.env['BENCH_HEAP_RUNS'] ?? 3);
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

async function childLeakscope(file: string): Promise<ChildResult> {
  const t0 = performance.now();
  const a = await analyzeSnapshot(file);
  const summary = summarizeHeap(a, { top: 20, topObjects: 10 });
  const ms = performance.now() - t0;
  return { ms, peakRssBytes: await peakRss(), answers: leakscopeAnswers(a), phases: { ...summary.timings } };
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

function runChild(args: string[], quiet = true): Promise<ChildResult> {
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
      else resolve(JSON.parse(line) as ChildResult);
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
          `  run ${r + 1} ${tool.padEnd(9)} ${secs(res.ms).padStart(9)}  peak RSS ${mb(res.peakRssBytes).padStart(8)}${
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
    log(
      `goal ≥4× faster: ${mt / lt >= 4 ? 'met' : 'NOT met'} (${(mt / lt).toFixed(2)}×); goal ≤½ peak RSS: ${lr / mr <= 0.5 ? 'met' : 'NOT met'} (${(lr / mr).toFixed(2)})`,
    );
    await rm(real, { force: true });

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
      `  leakscope full analysis: ${secs(b.ms)}, peak RSS ${mb(b.peakRssBytes)} (${((b.peakRssBytes / bigBytes) * 100).toFixed(0)}% of the file size); ${n0(b.answers.nodes)} nodes, ${n0(b.answers.entries)} ExecutorEntry, cache Map retains ${mb(b.answers.cacheRetained)}`,
    );
    log(
      `  phases: ${Object.entries(b.phases ?? {})
        .map(([k, v]) => `${k} ${secs(v)}`)
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
  const res = tool === 'memlab' ? await childMemlab(file!) : await childLeakscope(file!);
  process.stdout.write(`\n${JSON.stringify(res)}\n`);
} else {
  await bench();
}
