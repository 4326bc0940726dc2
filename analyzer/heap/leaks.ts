/**
 * Three-snapshot leak candidates (baseline, target, final), as memlab's find-leaks but
 * for Node servers: objects whose id first appears in the target and that are still
 * reachable in the final snapshot. They are grouped by class and by allocation retainer
 * — the pre-existing object (alive at baseline) whose edge leads to them, e.g. the cache
 * Map that keeps growing — and ranked by retained size, each group with the shortest path
 * from the GC roots to a representative member.
 */
import { sumTopmostByGroup } from './dominator-tree.js';
import type { Classes } from './class-names.js';
import { analyzeSnapshot, type HeapAnalysis } from './heap-analysis.js';
import { type HeapGraph, ROOT } from './heap-graph.js';
import { IdSet } from './id-set.js';
import {
  computeShortestPaths,
  isInternalType,
  NONE,
  nodeLabel,
  pathSteps,
  pathTo,
  renderPath,
  type PathStep,
} from './paths.js';
import { parseSnapshotFile, type ParseOptions } from './snapshot-parser.js';

export interface LeakClassRow {
  readonly className: string;
  readonly count: number;
  readonly selfSize: number;
  readonly retainedSize: number;
}

export interface LeakGroup extends LeakClassRow {
  /** The object alive since the baseline that holds the group (e.g. the growing Map). */
  readonly owner: { readonly id: number; readonly className: string; readonly label: string };
  /** Name of the owner's edge that leads to the group; "[]" for any element/index. */
  readonly ownerEdge: string;
  /** Readable holder: the owner by the edge that holds it, then ownerEdge, e.g. "SessionCache.executors.table". */
  readonly heldBy: string;
  /** Shortest path from the GC roots to the group's largest member. */
  readonly path: string;
  readonly steps: readonly PathStep[];
}

export interface LeakReport {
  readonly files: { readonly baseline: string; readonly target: string; readonly final: string };
  readonly candidateCount: number;
  readonly candidateSelfSize: number;
  /** Retained size of all candidates together (each byte once). */
  readonly candidateRetainedSize: number;
  readonly byClass: readonly LeakClassRow[];
  readonly groups: readonly LeakGroup[];
  readonly groupCount: number;
}

export interface LeakOptions extends ParseOptions {
  readonly top?: number;
  /** Keep V8 internals (hidden, code, internal arrays, system / *) as candidates. */
  readonly includeInternal?: boolean;
}

/**
 * Whether a node can be a leak candidate in a Node server: V8 plumbing (hidden objects,
 * compiled code, backing arrays, shapes, "system / …" objects) is never what a developer
 * leaked; it is counted in the retained size of the program object that owns it.
 * Decided once per node type and once per class (an object's class is its name), so the
 * test per node is two table lookups: it runs on every new node of the final snapshot.
 */
export function candidateTest(g: HeapGraph, classes: Classes): (i: number) => boolean {
  const internalType = Uint8Array.from(g.nodeTypes, (t) => (isInternalType(t) ? 1 : 0));
  const systemClass = Uint8Array.from(classes.names, (n) => (n.startsWith('system /') ? 1 : 0));
  const { nodeType } = g;
  const { object, native } = g.T;
  const { classOf } = classes;
  return (i) => {
    const t = nodeType[i]!;
    if (internalType[t] === 1) return false;
    return (t !== object && t !== native) || systemClass[classOf[i]!] === 0;
  };
}

/** An edge's name for grouping: element and numeric (table slot) edges all read "[]". */
function ownerEdgeName(g: HeapGraph, e: number): string {
  if (g.isIndexEdge(e)) return '[]';
  const name = g.edgeName(e);
  return /^\d+$/.test(name) ? '[]' : name;
}

/** Ids of all nodes of a snapshot file (edges and strings are skipped, not stored). */
export async function snapshotIds(file: string, opts: ParseOptions = {}): Promise<IdSet> {
  const raw = await parseSnapshotFile(file, { ...opts, nodesOnly: true });
  return new IdSet(raw.nodes.id.subarray(0, raw.nodes.count));
}

/** Leak candidates in an analysed final snapshot, given the ids of baseline and target. */
export function findLeaksIn(
  baseline: IdSet,
  target: IdSet,
  final: HeapAnalysis,
  files: LeakReport['files'],
  opts: LeakOptions = {},
): LeakReport {
  const g = final.graph;
  const { classOf, names } = final.classes;
  const n = g.nodeCount;
  const paths = computeShortestPaths(g, final.pool);
  const isNew = (i: number): boolean => {
    const id = g.nodeId[i]!;
    return target.has(id) && !baseline.has(id);
  };
  const isCandidate = opts.includeInternal ? null : candidateTest(g, final.classes);
  const candidate = new Uint8Array(n);
  let candidateCount = 0;
  let candidateSelf = 0;
  for (let i = 0; i < n; i++) {
    if (paths.distance[i] === NONE || !isNew(i)) continue;
    if (isCandidate && !isCandidate(i)) continue;
    candidate[i] = 1;
    candidateCount++;
    candidateSelf += g.selfSize[i]!;
  }

  // Owner edge of each candidate: walk up the shortest-path tree past objects that are
  // not from the baseline; memoised along the way (ownerEdge of non-baseline nodes).
  const ownerEdgeOf = new Uint32Array(n).fill(NONE);
  const inBaseline = (v: number): boolean => v === ROOT || baseline.has(g.nodeId[v]!);
  const chain: number[] = [];
  const ownerEdge = (i: number): number => {
    chain.length = 0;
    let v = i;
    let found = NONE;
    while (true) {
      if (ownerEdgeOf[v] !== NONE) {
        found = ownerEdgeOf[v]!;
        break;
      }
      chain.push(v);
      const p = paths.parentNode[v]!;
      if (inBaseline(p)) {
        found = paths.parentEdge[v]!;
        break;
      }
      v = p;
    }
    for (const c of chain) ownerEdgeOf[c] = found;
    return found;
  };

  // Group = (class, owner, owner edge name), where all elements of one owner are one
  // edge "[]". Numeric keys per owner edge first, so no string is built per candidate.
  const classCount = names.length;
  const groupOf = new Int32Array(n).fill(-1);
  const byEdge = new Map<number, number>();
  const byName = new Map<string, number>();
  const groupEdge: number[] = [];
  const groupClass: number[] = [];
  const candidateClass = new Int32Array(n).fill(-1);
  const all = new Int32Array(n).fill(-1);
  for (let i = 0; i < n; i++) {
    if (!candidate[i]) continue;
    const e = ownerEdge(i);
    const cls = classOf[i]!;
    const numKey = e * classCount + cls;
    let gi = byEdge.get(numKey);
    if (gi === undefined) {
      const nameKey = `${cls}\u0000${paths.parentNode[g.edgeTo[e]!]}\u0000${ownerEdgeName(g, e)}`;
      gi = byName.get(nameKey);
      if (gi === undefined) {
        gi = groupEdge.length;
        byName.set(nameKey, gi);
        groupEdge.push(e);
        groupClass.push(cls);
      }
      byEdge.set(numKey, gi);
    }
    groupOf[i] = gi;
    candidateClass[i] = cls;
    all[i] = 0;
  }
  const G = groupEdge.length;
  const gRetained = sumTopmostByGroup(final.tree, groupOf, G, final.retained, final.pool);
  const cRetained = sumTopmostByGroup(final.tree, candidateClass, classCount, final.retained, final.pool);
  const totalRetained = sumTopmostByGroup(final.tree, all, 1, final.retained, final.pool)[0]!;

  const gCount = new Float64Array(G);
  const gSelf = new Float64Array(G);
  const gBest = new Int32Array(G).fill(-1);
  const cCount = new Float64Array(classCount);
  const cSelf = new Float64Array(classCount);
  for (let i = 0; i < n; i++) {
    const gi = groupOf[i]!;
    if (gi < 0) continue;
    gCount[gi]!++;
    gSelf[gi]! += g.selfSize[i]!;
    if (gBest[gi]! < 0 || final.retained[i]! > final.retained[gBest[gi]!]!) gBest[gi] = i;
    cCount[classOf[i]!]!++;
    cSelf[classOf[i]!]! += g.selfSize[i]!;
  }
  const top = opts.top ?? 10;
  const order = [...Array(G).keys()].sort((x, y) => gRetained[y]! - gRetained[x]! || gCount[y]! - gCount[x]!);
  const groups: LeakGroup[] = order.slice(0, top).map((gi) => {
    const e = groupEdge[gi]!;
    const owner = paths.parentNode[g.edgeTo[e]!]!;
    const steps = pathSteps(g, final.classes, paths, pathTo(paths, gBest[gi]!));
    const edgeName = ownerEdgeName(g, e);
    const ownerIn = paths.parentEdge[owner]!;
    const ownerText =
      owner === ROOT || ownerIn === NONE || g.nodeType[owner] === g.T.synthetic
        ? nodeLabel(g, final.classes, owner)
        : `${names[classOf[paths.parentNode[owner]!]!]}.${ownerEdgeName(g, ownerIn)}`;
    return {
      className: names[groupClass[gi]!]!,
      count: gCount[gi]!,
      selfSize: gSelf[gi]!,
      retainedSize: gRetained[gi]!,
      owner: { id: g.nodeId[owner]!, className: names[classOf[owner]!]!, label: nodeLabel(g, final.classes, owner) },
      ownerEdge: edgeName,
      heldBy: edgeName === '[]' ? `${ownerText}[]` : `${ownerText}.${edgeName}`,
      path: renderPath(steps),
      steps,
    };
  });
  const byClass: LeakClassRow[] = names
    .map((className, c) => ({ className, count: cCount[c]!, selfSize: cSelf[c]!, retainedSize: cRetained[c]! }))
    .filter((r) => r.count > 0)
    .sort((x, y) => y.retainedSize - x.retainedSize || y.count - x.count)
    .slice(0, top);
  return {
    files,
    candidateCount,
    candidateSelfSize: candidateSelf,
    candidateRetainedSize: totalRetained,
    byClass,
    groups,
    groupCount: G,
  };
}

/**
 * Leak candidates from three snapshot files: `leakscope heap leaks BASELINE TARGET FINAL`.
 * The three files are read at once: baseline and target for their node ids only (no
 * edges kept, no string table built: the final's is the only one), interleaved with the
 * final's parse, whose nodes and edges go to worker threads.
 * @example (await findLeaks('s1.heapsnapshot', 's2.heapsnapshot', 's3.heapsnapshot')).groups[0].path
 */
export async function findLeaks(
  baselineFile: string,
  targetFile: string,
  finalFile: string,
  opts: LeakOptions = {},
): Promise<LeakReport> {
  const [baseline, target, final] = await Promise.all([
    snapshotIds(baselineFile, opts),
    snapshotIds(targetFile, opts),
    analyzeSnapshot(finalFile, opts),
  ]);
  return findLeaksIn(baseline, target, final, { baseline: baselineFile, target: targetFile, final: finalFile }, opts);
}
