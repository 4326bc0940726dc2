/**
 * Comparison of two snapshots by class, matched on node ids (the DevTools Comparison
 * view): objects whose id is only in the second are new, only in the first deleted.
 */
import type { HeapDiffRow } from '../../common/analysis-format.js';
import type { ClassifiedHeap } from './heap-analysis.js';
import type { HeapGraph } from './heap-graph.js';
import { IdSet } from './id-set.js';

/** One class's change between two snapshots; the type analysis.json carries. */
export type DiffRow = HeapDiffRow;

export interface SnapshotFacts {
  readonly file: string;
  readonly nodeCount: number;
  readonly totalSize: number;
}

export interface HeapDiff {
  readonly before: SnapshotFacts;
  readonly after: SnapshotFacts;
  /** Classes with any change, largest |deltaSize| first (top N). */
  readonly rows: readonly DiffRow[];
  readonly changedClassCount: number;
  readonly totals: Omit<DiffRow, 'className'>;
}

const facts = (g: HeapGraph): SnapshotFacts => ({ file: g.file, nodeCount: g.nodeCount, totalSize: g.totalSize() });

/** Counts and sizes per class of the nodes of `h` whose id is not in `other`. */
function unmatched(h: ClassifiedHeap, other: IdSet): Map<string, { count: number; size: number }> {
  const { graph: g, classes } = h;
  const count = new Float64Array(classes.names.length);
  const size = new Float64Array(classes.names.length);
  for (let i = 0; i < g.nodeCount; i++) {
    if (other.has(g.nodeId[i]!)) continue;
    const c = classes.classOf[i]!;
    count[c]!++;
    size[c]! += g.selfSize[i]!;
  }
  const out = new Map<string, { count: number; size: number }>();
  classes.names.forEach((name, c) => {
    if (count[c]! > 0) out.set(name, { count: count[c]!, size: size[c]! });
  });
  return out;
}

/**
 * Class-by-class comparison: `leakscope heap diff A B`.
 * @example diffHeaps(await loadClassifiedHeap(a), await loadClassifiedHeap(b)).rows[0]
 */
export function diffHeaps(before: ClassifiedHeap, after: ClassifiedHeap, opts: { top?: number } = {}): HeapDiff {
  const added = unmatched(after, new IdSet(before.graph.nodeId));
  const removed = unmatched(before, new IdSet(after.graph.nodeId));
  const names = new Set([...added.keys(), ...removed.keys()]);
  const rows: DiffRow[] = [...names].map((className) => {
    const a = added.get(className) ?? { count: 0, size: 0 };
    const r = removed.get(className) ?? { count: 0, size: 0 };
    return {
      className,
      newCount: a.count,
      deletedCount: r.count,
      deltaCount: a.count - r.count,
      allocSize: a.size,
      freedSize: r.size,
      deltaSize: a.size - r.size,
    };
  });
  rows.sort(
    (x, y) =>
      Math.abs(y.deltaSize) - Math.abs(x.deltaSize) ||
      Math.abs(y.deltaCount) - Math.abs(x.deltaCount) ||
      x.className.localeCompare(y.className),
  );
  const sum = (k: keyof Omit<DiffRow, 'className'>): number => rows.reduce((s, r) => s + r[k], 0);
  return {
    before: facts(before.graph),
    after: facts(after.graph),
    rows: rows.slice(0, opts.top ?? 20),
    changedClassCount: rows.length,
    totals: {
      newCount: sum('newCount'),
      deletedCount: sum('deletedCount'),
      deltaCount: sum('deltaCount'),
      allocSize: sum('allocSize'),
      freedSize: sum('freedSize'),
      deltaSize: sum('deltaSize'),
    },
  };
}
