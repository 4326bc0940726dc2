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
  /** The immediate dominators are the tree's (`idomOf(tree)`); the DFS order is gone. */
  readonly dominators: Pick<Dominators, 'reachableCount'>;
  readonly tree: DominatorTree;
  /** 32-bit words when the whole heap is under 4 GiB, else doubles. */
  readonly retained: Float64Array | Uint32Array;
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
  const counts = raw.nodes.edgeCount;
  const graph = new HeapGraph(raw);
  lap('graph');
  const pool = new Uint32Pool();
  // The per-node edge counts are dead once the graph has its first-edge index: memory
  // already touched, which the dominators take first (an array of its own only).
  if (counts.byteOffset === 0 && counts.byteLength === counts.buffer.byteLength) pool.give(counts);
  const d = computeDominators(graph, pool);
  lap('dominators');
  // Each array below takes the place of one that is dead, so the dominators' peak is the
  // analysis's: the sizes go where the predecessor lists were, the tree into the
  // dominators' scratch, the classes into the DFS order's or the idoms' array.
  const retained = computeRetainedSizes(graph, d, d.spare, pool);
  const tree = buildDominatorTree(d, pool);
  pool.give(d.order, d.idom);
  const classes = classify(graph, pool);
  lap('retained');
  return { graph, classes, dominators: { reachableCount: d.reachableCount }, tree, retained, pool, timings };
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
