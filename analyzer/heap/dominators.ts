/**
 * Immediate dominators of the heap graph by semi-NCA (Georgiadis; the variant LLVM's
 * dominator-tree builder uses): Lengauer–Tarjan's semidominators with path compression,
 * then each idom as the nearest common ancestor of the DFS parent and the semidominator,
 * with no buckets. Rooted at node 0, V8's synthetic root. Like DevTools, weak edges do not
 * retain, and shortcut edges retain only from the root (they mark user globals). Nodes
 * unreachable that way hang off the root, so the root's retained size is the whole heap.
 *
 * Everything after the depth-first search works on DFS numbers: the predecessor lists are
 * built in that numbering, so the main loop reads them in order (sequential memory)
 * instead of jumping through node indices, and five node-sized arrays are live at the peak
 * (Lengauer–Tarjan with buckets needed eight), one of them taken from `pool` when the
 * analysis has put the parse's dead per-node edge counts there.
 */
import { ROOT, type HeapGraph } from './heap-graph.js';
import { Uint32Pool } from './scratch-pool.js';

export interface Dominators {
  /** Immediate dominator of each node (node index); the root's is itself. */
  readonly idom: Uint32Array;
  /** Nodes in depth-first preorder: every node comes after its dominator. */
  readonly order: Uint32Array;
  /** order[0 .. reachableCount) are reachable from the root through retaining edges. */
  readonly reachableCount: number;
}

export interface DominatorResult extends Dominators {
  /**
   * The predecessor lists' edge-sized buffer, dead once the dominators are known: the
   * retained sizes can be written there (computeRetainedSizes' scratch). It is not pooled,
   * so that when nothing takes it, it is collected rather than kept.
   */
  readonly spare: ArrayBuffer;
}

/**
 * Computes immediate dominators. Scratch space (three node-sized arrays) goes back to
 * `pool`, for the phases after this one.
 */
export function computeDominators(g: HeapGraph, pool = new Uint32Pool()): DominatorResult {
  const n = g.nodeCount;
  const first = g.firstEdge;
  const to = g.edgeTo;
  const etype = g.edgeType;
  const weak = g.E.weak;
  const shortcut = g.E.shortcut;
  // Per-vertex arrays are indexed by DFS number (1-based; 0 means none), n + 1 words;
  // dfnum, by node, is n words: the dead per-node edge counts of the parse fit it.
  const dfnum = pool.take(n).fill(0);
  const vertex = pool.take(n + 1);
  // The DFS parent, overwritten in place by the idom at the end.
  const parent = pool.take(n + 1);
  parent[0] = 0;
  // Retaining predecessors in DFS numbers, as compressed rows: preds of vertex i are
  // retFrom[retFirst[i] .. retFirst[i + 1]). The DFS parent is left out (the loop below
  // starts from it), and so are the preds of the root's children, whose semidominator is
  // the root whatever they are: most heap objects have one retainer, so most rows are empty.
  // The search counts them: every retaining edge it looks at either makes a tree edge or
  // finds its target numbered already.
  const retFirst = pool.take(n + 2).fill(0);
  let count = 0;
  let reachableCount = 0;
  // The DFS stack grows as deep as the search goes: heaps are wide, so it is usually a
  // small fraction of n; a long list makes it n. One loop, no closure: the counters stay
  // in registers.
  let stackNode = new Uint32Array(Math.min(n, 1 << 16));
  let stackEdge = new Uint32Array(stackNode.length);
  // The root first; then each node still unnumbered, with a virtual edge from the root.
  for (let start = ROOT, next = 0; start < n; start = next++) {
    if (dfnum[start] !== 0) continue;
    dfnum[start] = ++count;
    vertex[count] = start;
    parent[count] = start === ROOT ? 0 : 1;
    let sp = 0;
    stackNode[0] = start;
    stackEdge[0] = first[start]!;
    while (sp >= 0) {
      const v = stackNode[sp]!;
      const e = stackEdge[sp]!;
      if (e >= first[v + 1]!) {
        sp--;
        continue;
      }
      stackEdge[sp] = e + 1;
      const t = etype[e];
      if (t === weak || (t === shortcut && v !== ROOT)) continue;
      const w = to[e]!;
      const dw = dfnum[w]!;
      if (dw !== 0) {
        const p = parent[dw]!;
        if (p !== 1 && p !== dfnum[v]) retFirst[dw]!++;
        continue;
      }
      dfnum[w] = ++count;
      vertex[count] = w;
      parent[count] = dfnum[v]!;
      if (++sp === stackNode.length) {
        const size = Math.min(n, stackNode.length * 2);
        const grownNode = new Uint32Array(size);
        grownNode.set(stackNode);
        const grownEdge = new Uint32Array(size);
        grownEdge.set(stackEdge);
        stackNode = grownNode;
        stackEdge = grownEdge;
      }
      stackNode[sp] = w;
      stackEdge[sp] = first[w]!;
    }
    if (start === ROOT) reachableCount = count;
  }

  // Ends first (retFirst[i] = end of row i); the fill moves each down to its start.
  for (let i = 1; i <= n + 1; i++) retFirst[i]! += retFirst[i - 1]!;
  // Edge-sized: not pooled (later phases take node-sized arrays), handed back as `spare`.
  const retFrom = new Uint32Array(Math.max(retFirst[n + 1]!, 1));
  for (let src = 0; src < n; src++) {
    const s = dfnum[src]!;
    const notRoot = src !== ROOT;
    for (let e = first[src]!, end = first[src + 1]!; e < end; e++) {
      const t = etype[e];
      if (t === weak || (t === shortcut && notRoot)) continue;
      const w = dfnum[to[e]!]!;
      const p = parent[w]!;
      if (p !== 1 && p !== s) retFrom[--retFirst[w]!] = s;
    }
  }

  // Semidominators, in reverse DFS order. Vertices numbered above i are linked into the
  // forest through `ancestor` (a copy of the parents that path compression shortens);
  // best[v] is the least semidominator on v's compressed path, which is all that semi-NCA
  // needs (Lengauer–Tarjan needed the vertex holding it, and buckets). best[v - 1] holds
  // v's, in the n words of dfnum, which is dead now.
  const ancestor = pool.take(n + 1);
  ancestor.set(parent);
  const best = dfnum;
  let i = n;
  // Least semidominator from v up to, not including, the first vertex not yet linked (≤ i).
  // Path compression without a stack: the way up reverses the ancestor links (each vertex
  // on the path points back to the one below it), the way down compresses and restores.
  const evalBest = (v: number): number => {
    let below = 0;
    let x = v;
    while (ancestor[x]! > i) {
      const up = ancestor[x]!;
      ancestor[x] = below;
      below = x;
      x = up;
    }
    while (below !== 0) {
      const y = below;
      below = ancestor[y]!;
      if (best[x - 1]! < best[y - 1]!) best[y - 1] = best[x - 1]!;
      ancestor[y] = ancestor[x]!;
      x = y;
    }
    return best[v - 1]!;
  };
  for (; i >= 2; i--) {
    let s = parent[i]!;
    for (let k = retFirst[i]!, end = retFirst[i + 1]!; k < end; k++) {
      const v = retFrom[k]!;
      const c = v < i ? v : v > i ? evalBest(v) : s;
      if (c < s) s = c;
    }
    best[i - 1] = s;
    // Row i + 1 is read for the last time above: its start holds i's semidominator now.
    retFirst[i + 1] = s;
  }
  // idom(i) is the nearest common ancestor of parent(i) and semi(i) in the dominator
  // tree: walk up from the parent (whose idom is final, being numbered lower) past semi(i).
  const idom = parent;
  for (let k = 2; k <= n; k++) {
    const s = retFirst[k + 1]!;
    let d = idom[k]!;
    while (d > s) d = idom[d]!;
    idom[k] = d;
  }

  // Outputs reuse arrays that are dead by now: two more would raise the peak for multi-GB
  // snapshots.
  const idomNode = ancestor.subarray(0, n);
  idomNode[vertex[1]!] = vertex[1]!;
  for (let k = 2; k <= n; k++) idomNode[vertex[k]!] = vertex[idom[k]!]!;
  const order = vertex.subarray(1);
  pool.give(best, idom, retFirst);
  return { idom: idomNode, order, reachableCount, spare: retFrom.buffer };
}

/**
 * Retained size of every node: its self size plus that of all nodes it dominates. No size
 * exceeds the root's (the whole heap), so below 4 GiB of heap they are 32-bit words.
 * `scratch`, a dead buffer (DominatorResult.spare), holds the result when it is large
 * enough, else `pool` gives one, so no new node-sized array is touched after the
 * dominators' peak.
 */
export function computeRetainedSizes(
  g: HeapGraph,
  d: Dominators,
  scratch?: ArrayBufferLike,
  pool?: Uint32Pool,
): Float64Array | Uint32Array {
  const n = g.nodeCount;
  const words = g.totalSize() < 2 ** 32 ? 1 : 2;
  let retained: Float64Array | Uint32Array;
  if (scratch && scratch.byteLength >= n * 4 * words)
    retained = words === 1 ? new Uint32Array(scratch, 0, n) : new Float64Array(scratch, 0, n);
  else if (pool) retained = words === 1 ? pool.take(n) : new Float64Array(pool.take(2 * n).buffer, 0, n);
  else retained = words === 1 ? new Uint32Array(n) : new Float64Array(n);
  retained.set(g.selfSize);
  const { order, idom } = d;
  for (let i = order.length - 1; i >= 1; i--) {
    const w = order[i]!;
    retained[idom[w]!]! += retained[w]!;
  }
  return retained;
}
