/**
 * Leak candidates from N ≥ 3 snapshots (baseline, …, target, final), as memlab's
 * find-leaks but for Node servers and confirmed over time: objects first seen after the
 * baseline and by the target (the snapshot before the final) that are still reachable in
 * the final snapshot. They are grouped by class and by allocation retainer — the
 * pre-existing object (alive at baseline) whose edge leads to them, e.g. the cache Map
 * that keeps growing — and ranked by retained size, each group with the shortest path
 * from the GC roots to a representative member, readable (collections folded, closures
 * with file:line).
 *
 * A group is kept only while it is still growing: in the last pair (target → final) it
 * gained surviving members and its class grew in count. Warm-up that stopped is named in
 * `stopped`, not blamed. Groups that grew in every consecutive pair (graphql-hive's
 * gateway memtests judge a leak the same way: growth in every interval) rank first.
 */
import type { HeapBackingStores } from '../../common/analysis-format.js';
import { backingStoresOf } from './backing-stores.js';
import { sumTopmostByGroup } from './dominator-tree.js';
import type { Classes } from './class-names.js';
import { analyzeSnapshot, type ClassifiedHeap, type HeapAnalysis, loadClassifiedHeap } from './heap-analysis.js';
import { IdSet } from './id-set.js';
import { type HeapGraph, ROOT } from './heap-graph.js';
import {
  computeShortestPaths,
  parentOf,
  reached,
  isInternalType,
  NONE,
  nodeLabel,
  pathSteps,
  pathTo,
  renderPath,
  type PathStep,
  type ShortestPaths,
} from './paths.js';
import { readablePath, type CodeSite } from './readable-path.js';
import type { ParseOptions } from './snapshot-parser.js';
import { loadStage, type SnapshotStage } from './snapshot-stages.js';
import { LsError } from '../../common/errors.js';

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
  /** The path with lists, listener arrays and Map tables folded, closures with file:line. */
  readonly readablePath: string;
  /** Closures on the path and the callback the representative holds, with their source lines. */
  readonly sites: readonly CodeSite[];
  /**
   * The program's name for the structure holding the group (`connections`, `chunks`): the
   * variable or property through which the owner is reached; null when it has none.
   */
  readonly holder: string | null;
  /** The class of the object whose property `holder` is (`UnboundedStore`), when it is a program class; else null. */
  readonly holderClass: string | null;
  /** ArrayBuffer backing stores the members hold (off-heap, inside retainedSize); null when none. */
  readonly backingStores: HeapBackingStores | null;
  /**
   * Surviving members first seen in each interval (baseline → S1, …, target → final);
   * the last counts members made after the target (not in count), which prove growth goes on.
   */
  readonly newPerInterval: readonly number[];
  /** Consecutive snapshot pairs in which the group gained members and its class grew. */
  readonly grewInPairs: number;
  readonly pairs: number;
}

/** A group that grew after the baseline but not in the last pair: warm-up that stopped. */
export interface StoppedGroup {
  readonly className: string;
  readonly heldBy: string;
  readonly count: number;
  readonly retainedSize: number;
}

export interface LeakReport {
  readonly files: { readonly baseline: string; readonly target: string; readonly final: string };
  /** Every snapshot used, in order (baseline first, final last). */
  readonly snapshots: readonly string[];
  readonly candidateCount: number;
  readonly candidateSelfSize: number;
  /** Retained size of all candidates together (each byte once). */
  readonly candidateRetainedSize: number;
  readonly byClass: readonly LeakClassRow[];
  readonly groups: readonly LeakGroup[];
  readonly groupCount: number;
  /** Groups left out because they stopped growing (largest first, top 5), and how many. */
  readonly stopped: readonly StoppedGroup[];
  readonly stoppedCount: number;
}

export interface LeakOptions extends ParseOptions {
  readonly top?: number;
  /** Keep V8 internals (hidden, code, internal arrays, system / *) as candidates. */
  readonly includeInternal?: boolean;
  /** Keep groups that did not grow in the last pair (default false: they are warm-up). */
  readonly keepStopped?: boolean;
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

/**
 * The two directions of a doubly linked list or ring (Node's timer lists, linked queues):
 * the shortest paths reach half of a ring's members each way, one group for both.
 */
const LINK_PAIRS: Readonly<Record<string, string>> = {
  _idleNext: '_idleNext/_idlePrev',
  _idlePrev: '_idleNext/_idlePrev',
  next: 'next/prev',
  prev: 'next/prev',
};

/** An edge's name for grouping: element and numeric (table slot) edges all read "[]". */
function ownerEdgeName(g: HeapGraph, e: number): string {
  if (g.isIndexEdge(e)) return '[]';
  const name = g.edgeName(e);
  return /^\d+$/.test(name) ? '[]' : (LINK_PAIRS[name] ?? name);
}

/** A name the program wrote: a variable (context edge) or a property, as an identifier. */
function programName(g: HeapGraph, e: number): string | null {
  const t = g.edgeType[e];
  if (e === NONE || (t !== g.E.property && t !== g.E.context)) return null;
  const name = g.edgeNamePrefix(e, 64);
  return /^[A-Za-z_$][\w$]*$/.test(name) ? name : null;
}

/** A class the program may have declared (`class X`), or null for V8's and plain objects. */
const programClass = (name: string): string | null =>
  /^[A-Za-z_$][\w$]*$/.test(name) && name !== 'Object' && name !== 'Array' ? name : null;

/**
 * The owner edge of each node: walk up the shortest-path tree past objects that are not
 * from the baseline, to the edge by which the nearest baseline object holds the node;
 * memoised along the way, so a heap's walk is linear.
 */
function ownerEdgeWalk(
  g: HeapGraph,
  classOf: Int32Array,
  paths: ShortestPaths,
  baseline: IdSet,
): (i: number) => number {
  const ownerEdgeOf = new Uint32Array(g.nodeCount).fill(NONE);
  const inBaseline = (v: number): boolean => v === ROOT || baseline.has(g.nodeId[v]!);
  const chain: number[] = [];
  return (i) => {
    chain.length = 0;
    let v = i;
    let found = NONE;
    while (true) {
      if (ownerEdgeOf[v] !== NONE) {
        found = ownerEdgeOf[v]!;
        break;
      }
      chain.push(v);
      const p = parentOf(g, paths, v);
      // A list's older members are not its owner: walk on to the list's head.
      if (inBaseline(p) && (p === ROOT || classOf[p] !== classOf[v])) {
        found = paths.parentEdge[v]!;
        break;
      }
      v = p;
    }
    for (const c of chain) ownerEdgeOf[c] = found;
    return found;
  };
}

/**
 * Each node's canonical owner: its owner (the nearest baseline object on its shortest path,
 * `ownerEdgeWalk`), or, when that is V8 plumbing (a Map's hash table, an array's backing
 * store, which V8 replaces as they grow or rehash), the nearest baseline object above it
 * that the program made. The same structure then has the same owner in every snapshot,
 * whether or not its table was replaced in between: census keys count by it.
 */
function canonicalOwners(
  g: HeapGraph,
  paths: ShortestPaths,
  baseline: IdSet,
  ownerEdge: (i: number) => number,
): (i: number) => number {
  const internalType = Uint8Array.from(g.nodeTypes, (t) => (isInternalType(t) ? 1 : 0));
  const memo = new Map<number, number>();
  return (i) => {
    const owner = g.edgeSource(ownerEdge(i));
    let v = memo.get(owner);
    if (v !== undefined) return v;
    v = owner;
    while (v !== ROOT && (internalType[g.nodeType[v]!] === 1 || !baseline.has(g.nodeId[v]!))) {
      const p = parentOf(g, paths, v);
      if (p === NONE) break;
      v = p;
    }
    memo.set(owner, v);
    return v;
  };
}

/** A census key that holds across snapshots: the class and the canonical owner's node id (V8 keeps an object's id). */
const censusKey = (className: string, ownerId: number): string => `${className}\u0000${ownerId}`;

/**
 * Counts the reached candidates that `take` accepts by class × canonical owner (the key
 * `owner × classCount + class`). Open, every key found is added; closed, only the keys
 * already in `counts` grow, and nodes of a class no key has are passed over before their
 * owner is looked up (most of a heap: this runs over every node of the snapshot).
 */
function tally(
  g: HeapGraph,
  classes: Classes,
  paths: ShortestPaths,
  isCandidate: ((i: number) => boolean) | null,
  canon: (i: number) => number,
  counts: Map<number, number>,
  open: boolean,
  take: (i: number) => boolean,
): void {
  const { classOf } = classes;
  const C = classes.names.length;
  const keyed = new Uint8Array(C);
  for (const key of counts.keys()) keyed[key % C] = 1;
  for (let i = 0; i < g.nodeCount; i++) {
    if (i === ROOT || (!open && keyed[classOf[i]!] === 0) || !reached(paths, i)) continue;
    if ((isCandidate && !isCandidate(i)) || !take(i)) continue;
    const key = canon(i) * C + classOf[i]!;
    const have = counts.get(key);
    if (have !== undefined || open) counts.set(key, (have ?? 0) + 1);
  }
}

/** The target snapshot as a stage: its census of the groups new objects form there. */
export interface TargetStage extends SnapshotStage {
  /** Objects each group (class and canonical owner, `censusKey`) held in the target, older members included. */
  readonly census: ReadonlyMap<string, number>;
}

/**
 * The target snapshot as a stage with its group census: for each group that objects first
 * seen after the baseline form there (by class and canonical owner), how many objects it
 * holds, older ones included. A group still grows in the last pair when the final holds
 * more than the target did: a bounded cache that replaces its entries holds as many, a leak
 * more. (A whole-class count cannot tell: in a small run, the requests in flight at the
 * target's capture can hold more strings and closures than a leak adds by the final.)
 * The target's graph is not kept.
 */
export function targetStage(
  file: string,
  target: ClassifiedHeap,
  baseline: IdSet,
  opts: Pick<LeakOptions, 'includeInternal'> = {},
): TargetStage {
  const g = target.graph;
  const { classOf, names } = target.classes;
  const C = names.length;
  const paths = computeShortestPaths(g);
  const isCandidate = opts.includeInternal ? null : candidateTest(g, target.classes);
  const canon = canonicalOwners(g, paths, baseline, ownerEdgeWalk(g, classOf, paths, baseline));
  const isNew = (i: number): boolean => !baseline.has(g.nodeId[i]!);
  // The groups new objects form, then every member they hold (objects from the baseline too).
  const counts = new Map<number, number>();
  tally(g, target.classes, paths, isCandidate, canon, counts, true, isNew);
  tally(g, target.classes, paths, isCandidate, canon, counts, false, (i) => !isNew(i));
  const census = new Map<string, number>();
  for (const [key, count] of counts) census.set(censusKey(names[key % C]!, g.nodeId[Math.floor(key / C)]!), count);
  return { file, ids: new IdSet(g.nodeId.subarray(0, g.nodeCount)), totalSize: g.totalSize(), census };
}

/**
 * Leak candidates in an analysed final snapshot, given the earlier snapshots in order
 * (baseline first, target last with its census; at least two).
 */
export function findLeaksIn(
  stages: readonly [...SnapshotStage[], TargetStage],
  final: HeapAnalysis,
  finalFile: string,
  opts: LeakOptions = {},
): LeakReport {
  if (stages.length < 2)
    throw new LsError('LS_ERR_INVALID_OPTION', `leak candidates need at least 3 snapshots, got ${stages.length + 1}`);
  const g = final.graph;
  const { classOf, names } = final.classes;
  const n = g.nodeCount;
  const k = stages.length; // intervals: stage j-1 → j for j = 1..k-1, then target → final (k)
  const paths = computeShortestPaths(g, final.pool);
  const baseline = stages[0]!.ids;
  // Interval in which each object alive in the final was first seen: 0 before the
  // baseline, j when first in stage j, k when made after the target.
  const bornIn = (i: number): number => {
    const id = g.nodeId[i]!;
    for (let j = 0; j < k; j++) if (stages[j]!.ids.has(id)) return j;
    return k;
  };
  const isCandidate = opts.includeInternal ? null : candidateTest(g, final.classes);
  const interval = new Uint8Array(n); // 0: not a candidate (nor a late member)
  for (let i = 0; i < n; i++) {
    if (!reached(paths, i)) continue;
    if (isCandidate && !isCandidate(i)) continue;
    interval[i] = bornIn(i);
  }

  const ownerEdge = ownerEdgeWalk(g, classOf, paths, baseline);

  // Group = (class, owner, owner edge name), where all elements of one owner are one
  // edge "[]". Numeric keys per owner edge first, so no string is built per candidate.
  // Candidates (first seen by the target) make the groups; members made after the
  // target only count towards the last interval of a group that exists.
  const classCount = names.length;
  const groupOf = new Int32Array(n).fill(-1);
  const byEdge = new Map<number, number>();
  const byName = new Map<string, number>();
  const groupEdge: number[] = [];
  const groupClass: number[] = [];
  const perInterval: number[][] = [];
  const groupFor = (i: number, create: boolean): number | undefined => {
    const e = ownerEdge(i);
    const cls = classOf[i]!;
    const numKey = e * classCount + cls;
    let gi = byEdge.get(numKey);
    if (gi === undefined) {
      const nameKey = `${cls}\u0000${parentOf(g, paths, g.edgeTo[e]!)}\u0000${ownerEdgeName(g, e)}`;
      gi = byName.get(nameKey);
      if (gi === undefined) {
        if (!create) return undefined;
        gi = groupEdge.length;
        byName.set(nameKey, gi);
        groupEdge.push(e);
        groupClass.push(cls);
        perInterval.push(new Array<number>(k).fill(0));
      }
      byEdge.set(numKey, gi);
    }
    return gi;
  };
  for (let i = 0; i < n; i++) {
    const j = interval[i]!;
    if (j === 0 || j === k) continue;
    const gi = groupFor(i, true)!;
    groupOf[i] = gi;
    perInterval[gi]![j - 1]!++;
  }
  for (let i = 0; i < n; i++) {
    if (interval[i] !== k) continue;
    const gi = groupFor(i, false);
    if (gi !== undefined) perInterval[gi]![k - 1]!++;
  }
  const G = groupEdge.length;

  // Growth per consecutive pair: the group gained members that survive to the final. In
  // the last pair its class and canonical owner must also hold more objects in the final
  // than in the target (the target's census): a bounded cache that replaces entries gains
  // survivors too, but holds no more of them. Earlier pairs do without that test: a
  // snapshot taken mid-load (`snapshots: N`) holds the requests in flight, whose objects
  // make a count swing by more than a leak adds.
  const { census } = stages[k - 1] as TargetStage;
  const canon = canonicalOwners(g, paths, baseline, ownerEdge);
  const groupKey = new Float64Array(G);
  const heldNow = new Map<number, number>();
  for (let gi = 0; gi < G; gi++) {
    groupKey[gi] = canon(g.edgeTo[groupEdge[gi]!]!) * classCount + groupClass[gi]!;
    heldNow.set(groupKey[gi]!, 0);
  }
  tally(g, final.classes, paths, isCandidate, canon, heldNow, false, () => true);
  const grewIn = new Int32Array(G);
  const grewLast = new Uint8Array(G);
  for (let gi = 0; gi < G; gi++) {
    for (let j = 1; j < k; j++) if (perInterval[gi]![j - 1]! > 0) grewIn[gi]!++;
    const key = groupKey[gi]!;
    const before = census.get(censusKey(names[groupClass[gi]!]!, g.nodeId[Math.floor(key / classCount)]!)) ?? 0;
    if (perInterval[gi]![k - 1]! > 0 && heldNow.get(key)! > before) {
      grewIn[gi]!++;
      grewLast[gi] = 1;
    }
  }
  const kept = (gi: number): boolean => opts.keepStopped === true || grewLast[gi] === 1;

  const allRetained = sumTopmostByGroup(final.tree, groupOf, G, final.retained);
  // Candidates are the members of groups still growing; the others are warm-up.
  const candidate = new Int32Array(n).fill(-1);
  const candidateClass = new Int32Array(n).fill(-1);
  let candidateCount = 0;
  let candidateSelf = 0;
  for (let i = 0; i < n; i++) {
    const gi = groupOf[i]!;
    if (gi < 0 || !kept(gi)) continue;
    candidate[i] = 0;
    candidateClass[i] = classOf[i]!;
    candidateCount++;
    candidateSelf += g.selfSize[i]!;
  }
  const cRetained = sumTopmostByGroup(final.tree, candidateClass, classCount, final.retained);
  const totalRetained = sumTopmostByGroup(final.tree, candidate, 1, final.retained)[0]!;

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
    if (candidate[i] !== 0) continue;
    cCount[classOf[i]!]!++;
    cSelf[classOf[i]!]! += g.selfSize[i]!;
  }
  const top = opts.top ?? 10;
  const heldByOf = (gi: number): string => {
    const e = groupEdge[gi]!;
    const owner = parentOf(g, paths, g.edgeTo[e]!);
    const edgeName = ownerEdgeName(g, e);
    const ownerIn = paths.parentEdge[owner]!;
    const ownerText =
      owner === ROOT || ownerIn === NONE || g.nodeType[owner] === g.T.synthetic
        ? nodeLabel(g, final.classes, owner)
        : `${names[classOf[parentOf(g, paths, owner)]!]}.${ownerEdgeName(g, ownerIn)}`;
    return edgeName === '[]' ? `${ownerText}[]` : `${ownerText}.${edgeName}`;
  };
  const bySize = (x: number, y: number): number => allRetained[y]! - allRetained[x]! || gCount[y]! - gCount[x]!;
  // Growth in every pair first, then by retained size.
  const order = [...Array(G).keys()]
    .filter(kept)
    .sort((x, y) => Number(grewIn[y] === k) - Number(grewIn[x] === k) || bySize(x, y));
  const stoppedOrder = [...Array(G).keys()].filter((gi) => !kept(gi)).sort(bySize);
  const chosen = order.slice(0, top);
  const stores = backingStoresOf(g, final.classes, groupOf, chosen);
  const groups: LeakGroup[] = chosen.map((gi, slot) => {
    const e = groupEdge[gi]!;
    const owner = parentOf(g, paths, g.edgeTo[e]!);
    const ownerName = owner === ROOT ? null : programName(g, paths.parentEdge[owner]!);
    const nodes = pathTo(g, paths, gBest[gi]!);
    const steps = pathSteps(g, final.classes, paths, nodes);
    const readable = readablePath(g, final.classes, paths, nodes);
    return {
      className: names[groupClass[gi]!]!,
      count: gCount[gi]!,
      selfSize: gSelf[gi]!,
      retainedSize: allRetained[gi]!,
      owner: { id: g.nodeId[owner]!, className: names[classOf[owner]!]!, label: nodeLabel(g, final.classes, owner) },
      ownerEdge: ownerEdgeName(g, e),
      heldBy: heldByOf(gi),
      path: renderPath(steps),
      steps,
      readablePath: readable.text,
      sites: readable.sites,
      holder: ownerName ?? programName(g, e),
      holderClass:
        ownerName !== null && g.edgeType[paths.parentEdge[owner]!] === g.E.property
          ? programClass(names[classOf[parentOf(g, paths, owner)]!]!)
          : null,
      backingStores: stores[slot]!,
      newPerInterval: perInterval[gi]!,
      grewInPairs: grewIn[gi]!,
      pairs: k,
    };
  });
  const byClass: LeakClassRow[] = names
    .map((className, c) => ({ className, count: cCount[c]!, selfSize: cSelf[c]!, retainedSize: cRetained[c]! }))
    .filter((r) => r.count > 0)
    .sort((x, y) => y.retainedSize - x.retainedSize || y.count - x.count)
    .slice(0, top);
  const files = [...stages.map((s) => s.file), finalFile];
  return {
    files: { baseline: files[0]!, target: files[files.length - 2]!, final: finalFile },
    snapshots: files,
    candidateCount,
    candidateSelfSize: candidateSelf,
    candidateRetainedSize: totalRetained,
    byClass,
    groups,
    groupCount: order.length,
    stopped: stoppedOrder.slice(0, 5).map((gi) => ({
      className: names[groupClass[gi]!]!,
      heldBy: heldByOf(gi),
      count: gCount[gi]!,
      retainedSize: allRetained[gi]!,
    })),
    stoppedCount: stoppedOrder.length,
  };
}

/**
 * Leak candidates from N ≥ 3 snapshot files in the order they were taken:
 * `leakscope heap leaks BASELINE [MORE…] TARGET FINAL`. The files before the target are read
 * at once for their node ids only (no edges or strings kept) and the target whole for its
 * group census, then the final, whose nodes and edges go to worker threads.
 * @example (await findLeaksAcross(['s1.heapsnapshot', 's2.heapsnapshot', 's3.heapsnapshot'])).groups[0].readablePath
 */
export async function findLeaksAcross(files: readonly string[], opts: LeakOptions = {}): Promise<LeakReport> {
  if (files.length < 3)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `leak candidates need at least 3 snapshots (baseline, target, final), got ${files.length}`,
    );
  const earlier = files.slice(0, -2);
  const targetFile = files[files.length - 2]!;
  const finalFile = files[files.length - 1]!;
  // The target is read whole (its graph groups its objects as the final's are, for the
  // census), the snapshots before it for their node ids only. One after the other, and the
  // target's graph is not kept past its census (no variable holds it across an await), so
  // the peak stays the final's analysis.
  const stages = await Promise.all(earlier.map((f) => loadStage(f, opts)));
  const baseline = stages[0]!.ids;
  const target = await loadClassifiedHeap(targetFile, opts).then((t) => targetStage(targetFile, t, baseline, opts));
  const final = await analyzeSnapshot(finalFile, opts);
  return findLeaksIn([...stages, target], final, finalFile, opts);
}

/**
 * Leak candidates from three snapshot files: `leakscope heap leaks BASELINE TARGET FINAL`.
 * @example (await findLeaks('s1.heapsnapshot', 's2.heapsnapshot', 's3.heapsnapshot')).groups[0].path
 */
export function findLeaks(
  baselineFile: string,
  targetFile: string,
  finalFile: string,
  opts: LeakOptions = {},
): Promise<LeakReport> {
  return findLeaksAcross([baselineFile, targetFile, finalFile], opts);
}
