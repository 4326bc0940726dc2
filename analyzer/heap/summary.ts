/**
 * The DevTools Summary view for one snapshot: per class count, self size and retained
 * size (a class's retained size counts each object once: members dominated by another
 * member of the same class are already inside it), plus the objects retaining most.
 */
import { sumTopmostByGroup } from './dominator-tree.js';
import type { HeapAnalysis } from './heap-analysis.js';
import { computeShortestPaths, isInternalType, pathSteps, pathTo, renderPath, type PathStep } from './paths.js';
import { topK } from './top-k.js';

export interface ClassRow {
  readonly className: string;
  readonly count: number;
  readonly selfSize: number;
  readonly retainedSize: number;
}

export interface TopObject {
  readonly id: number;
  readonly className: string;
  readonly label: string;
  readonly selfSize: number;
  readonly retainedSize: number;
  readonly path: string;
  readonly steps: readonly PathStep[];
}

export interface HeapSummary {
  readonly file: string;
  readonly fileBytes: number;
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly totalSize: number;
  readonly classCount: number;
  /** Classes by retained size, largest first (top N). */
  readonly classes: readonly ClassRow[];
  /** Program objects (not V8 plumbing) retaining most, with their shortest retainer path. */
  readonly topObjects: readonly TopObject[];
  readonly timings: Readonly<Record<string, number>>;
}

export interface SummaryOptions {
  readonly top?: number;
  /** How many single objects to list with paths (0 to skip the path search). */
  readonly topObjects?: number;
}

/** Per-class rows for every class (unsorted), the basis of summary and diff. */
export function classRows(a: HeapAnalysis): ClassRow[] {
  const { graph: g, classes } = a;
  const k = classes.names.length;
  const count = new Float64Array(k);
  const self = new Float64Array(k);
  for (let i = 0; i < g.nodeCount; i++) {
    const c = classes.classOf[i]!;
    count[c]!++;
    self[c]! += g.selfSize[i]!;
  }
  const retained = sumTopmostByGroup(a.tree, classes.classOf, k, a.retained);
  return classes.names.map((className, c) => ({
    className,
    count: count[c]!,
    selfSize: self[c]!,
    retainedSize: retained[c]!,
  }));
}

/**
 * Summary of one analysed snapshot: `leakscope heap summary SNAP`.
 * @example summarizeHeap(await analyzeSnapshot(f), { top: 20 }).classes[0].className
 */
export function summarizeHeap(a: HeapAnalysis, opts: SummaryOptions = {}): HeapSummary {
  const t0 = performance.now();
  const g = a.graph;
  const top = opts.top ?? 20;
  const rows = classRows(a).sort((x, y) => y.retainedSize - x.retainedSize || y.selfSize - x.selfSize);
  const nObjects = opts.topObjects ?? 10;
  let topObjects: TopObject[] = [];
  if (nObjects > 0) {
    const picked = topK(
      g.nodeCount,
      nObjects,
      (i) => a.retained[i]!,
      (i) => !isInternalType(g.typeName(i)),
    );
    const paths = computeShortestPaths(g, a.pool);
    topObjects = picked.map((i) => {
      const steps = pathSteps(g, a.classes, paths, pathTo(g, paths, i));
      return {
        id: g.nodeId[i]!,
        className: a.classes.names[a.classes.classOf[i]!]!,
        label: steps.length ? steps[steps.length - 1]!.node.text : a.classes.names[a.classes.classOf[i]!]!,
        selfSize: g.selfSize[i]!,
        retainedSize: a.retained[i]!,
        path: renderPath(steps),
        steps,
      };
    });
    a.pool.give(paths.parentEdge);
  }
  return {
    file: g.file,
    fileBytes: g.fileBytes,
    nodeCount: g.nodeCount,
    edgeCount: g.edgeCount,
    totalSize: a.retained[0]!,
    classCount: rows.length,
    classes: rows.slice(0, top),
    topObjects,
    timings: { ...a.timings, summary: performance.now() - t0 },
  };
}
