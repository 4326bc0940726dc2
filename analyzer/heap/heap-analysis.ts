/**
 * One snapshot analysed: graph, classes, dominators and retained sizes. This is the
 * "full analysis" the CLI and the benchmark run; later steps (summary, leaks) read it.
 */
import { classify, type Classes } from './class-names.js';
import { buildDominatorTree, type DominatorTree } from './dominator-tree.js';
import { computeDominators, computeRetainedSizes, type Dominators } from './dominators.js';
import { HeapGraph } from './heap-graph.js';
import { Uint32Pool } from './scratch-pool.js';
import { type ParallelParseOptions, parseSnapshotParallel } from './parallel-parse.js';
import type { ParseOptions, RawSnapshot } from './snapshot-parser.js';

/** A parsed snapshot with node classes: enough for diffs and id sets. */
export interface ClassifiedHeap {
  readonly graph: HeapGraph;
  readonly classes: Classes;
}

export interface HeapAnalysis extends ClassifiedHeap {
  /** Immediate dominators (the dominator order is gone: `tree` walks it). */
  readonly dominators: Pick<Dominators, 'idom' | 'reachableCount'>;
  readonly tree: DominatorTree;
  readonly retained: Float64Array;
  /** Scratch space later phases (summary, leaks) borrow from. */
  readonly pool: Uint32Pool;
  /** Milliseconds per phase. */
  readonly timings: Readonly<Record<string, number>>;
}

/** Parses a snapshot and classifies its nodes, without dominators: `leakscope heap diff` input. */
export async function loadClassifiedHeap(file: string, opts: ParallelParseOptions = {}): Promise<ClassifiedHeap> {
  const graph = new HeapGraph(await parseSnapshotParallel(file, opts));
  return { graph, classes: classify(graph) };
}

/** Analyses an already parsed snapshot (e.g. one read from a worker's stream). */
export function analyzeRaw(
  raw: RawSnapshot,
  opts: ParseOptions = {},
  timings: Record<string, number> = {},
): HeapAnalysis {
  let t = performance.now();
  const lap = (phase: string): void => {
    const now = performance.now();
    timings[phase] = now - t;
    t = now;
    opts.onProgress?.(phase, 1, 1);
  };
  const graph = new HeapGraph(raw);
  lap('graph');
  const pool = new Uint32Pool();
  const { idom, order, reachableCount, spare } = computeDominators(graph, pool);
  lap('dominators');
  // The predecessor lists are dead once the dominators are known: the sizes go there.
  const retained = computeRetainedSizes(graph, { idom, order, reachableCount }, spare);
  const tree = buildDominatorTree({ idom, order, reachableCount }, pool);
  // Classes last, in the dominator order's space: one node-sized array fewer at the
  // dominators' peak.
  pool.give(order);
  const classes = classify(graph, pool);
  lap('retained');
  return { graph, classes, dominators: { idom, reachableCount }, tree, retained, pool, timings };
}

/**
 * Parses and analyses a snapshot file: the work behind `leakscope heap summary`.
 * @example const a = await analyzeSnapshot('final.heapsnapshot'); a.retained[0] // whole heap
 */
export async function analyzeSnapshot(file: string, opts: ParallelParseOptions = {}): Promise<HeapAnalysis> {
  const t0 = performance.now();
  const raw = await parseSnapshotParallel(file, opts);
  const timings: Record<string, number> = { parse: performance.now() - t0 };
  return analyzeRaw(raw, opts, timings);
}
