/**
 * Immediate dominators of the heap graph by Lengauer–Tarjan (simple version with
 * iterative path compression, O(E log N)), rooted at node 0, V8's synthetic root.
 * Like DevTools, weak edges do not retain, and shortcut edges retain only from the root
 * (they mark user globals). Nodes unreachable that way hang off the root, so the root's
 * retained size is the whole heap.
 */
import { ROOT, type HeapGraph } from './heap-graph.js';
import type { Retainers } from './retainers.js';
import { Uint32Pool } from './scratch-pool.js';

export interface Dominators {
  /** Immediate dominator of each node (node index); the root's is itself. */
  readonly idom: Uint32Array;
  /** Nodes in depth-first preorder: every node comes after its dominator. */
  readonly order: Uint32Array;
  /** order[0 .. reachableCount) are reachable from the root through retaining edges. */
  readonly reachableCount: number;
}

/** Computes immediate dominators. Scratch space, and the retainers, go back to `pool`. */
export function computeDominators(g: HeapGraph, r: Retainers, pool = new Uint32Pool()): Dominators {
  const n = g.nodeCount;
  const first = g.firstEdge;
  const to = g.edgeTo;
  const etype = g.edgeType;
  const weak = g.E.weak;
  const shortcut = g.E.shortcut;
  // All per-vertex arrays below are indexed by DFS number (1-based; 0 means none).
  const dfnum = pool.take(n + 1).fill(0);
  const vertex = pool.take(n + 1);
  // A vertex's DFS parent is read only while the vertex itself is processed, and its
  // idom is written only after that: one array holds both.
  const idom = pool.take(n + 1);
  const parent = idom;
  let count = 0;
  let reachableCount = 0;
  // The DFS stacks become the buckets afterwards: seven arrays of n words at the peak.
  const stackNode = pool.take(n + 1);
  const stackEdge = pool.take(n + 1);
  {
    const dfsFrom = (start: number, parentDfn: number): void => {
      dfnum[start] = ++count;
      vertex[count] = start;
      parent[count] = parentDfn;
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
        if (dfnum[w] !== 0) continue;
        dfnum[w] = ++count;
        vertex[count] = w;
        parent[count] = dfnum[v]!;
        sp++;
        stackNode[sp] = w;
        stackEdge[sp] = first[w]!;
      }
    };
    dfsFrom(ROOT, 0);
    reachableCount = count;
    // Unreachable nodes get a virtual edge from the root.
    for (let i = 0; i < n; i++) if (dfnum[i] === 0) dfsFrom(i, 1);
  }

  // Predecessors as DFS numbers from here on: the semi loop reads them directly, and the
  // dfnum array goes back to the pool before the next three arrays are taken.
  const { retFirst, retFrom } = r;
  for (let k = 0; k < retFrom.length; k++) retFrom[k] = dfnum[retFrom[k]!]!;
  pool.give(dfnum);
  const semi = pool.take(n + 1);
  const label = pool.take(n + 1);
  const ancestor = pool.take(n + 1).fill(0);
  const bucketHead = stackEdge.fill(0);
  const bucketNext = stackNode.fill(0);
  for (let i = 1; i <= n; i++) {
    semi[i] = i;
    label[i] = i;
  }
  // Path compression without a stack: the way up reverses the ancestor links (each node
  // on the path points back to the one below it), the way down compresses and restores.
  const evalv = (v: number): number => {
    if (ancestor[v] === 0) return v;
    let below = 0;
    let x = v;
    while (ancestor[ancestor[x]!] !== 0) {
      const up = ancestor[x]!;
      ancestor[x] = below;
      below = x;
      x = up;
    }
    while (below !== 0) {
      const y = below;
      below = ancestor[y]!;
      if (semi[label[x]!]! < semi[label[y]!]!) label[y] = label[x]!;
      ancestor[y] = ancestor[x]!;
      x = y;
    }
    return label[v]!;
  };
  for (let i = n; i >= 2; i--) {
    const w = vertex[i]!;
    const p = parent[i]!;
    let s = i;
    if (p === 1) {
      s = 1; // a child of the root (real or virtual): the root is the least possible semi
    } else {
      for (let k = retFirst[w]!, end = retFirst[w + 1]!; k < end; k++) {
        const u = evalv(retFrom[k]!);
        if (semi[u]! < s) s = semi[u]!;
      }
    }
    semi[i] = s;
    bucketNext[i] = bucketHead[s]!;
    bucketHead[s] = i;
    ancestor[i] = p;
    for (let v = bucketHead[p]!; v !== 0; v = bucketNext[v]!) {
      const u = evalv(v);
      idom[v] = semi[u]! < semi[v]! ? u : p;
    }
    bucketHead[p] = 0;
  }
  for (let i = 2; i <= n; i++) if (idom[i] !== semi[i]) idom[i] = idom[idom[i]!]!;

  // Outputs reuse arrays that are dead by now (semi, vertex): two more would raise the
  // peak for multi-GB snapshots.
  const idomNode = semi.subarray(0, n);
  for (let i = 1; i <= n; i++) {
    const w = vertex[i]!;
    idomNode[w] = i === 1 ? w : vertex[idom[i]!]!;
  }
  const order = vertex.subarray(1);
  // Not retFrom: it is edge-sized, and later phases only take node-sized arrays (best fit),
  // so pooled it would stay resident for the whole analysis instead of being collected.
  pool.give(stackNode, stackEdge, label, ancestor, idom, retFirst);
  return { idom: idomNode, order, reachableCount };
}

/**
 * Retained size of every node: its self size plus that of all nodes it dominates.
 * `scratch`, a dead buffer (the retainers' edge-sized array once the dominators have
 * consumed it), holds the result when it is large enough, so no new 8 bytes per node
 * are taken while the dead array waits for a collection.
 */
export function computeRetainedSizes(g: HeapGraph, d: Dominators, scratch?: ArrayBufferLike): Float64Array {
  const n = g.nodeCount;
  const retained = scratch && scratch.byteLength >= n * 8 ? new Float64Array(scratch, 0, n) : new Float64Array(n);
  retained.set(g.selfSize);
  const { order, idom } = d;
  for (let i = order.length - 1; i >= 1; i--) {
    const w = order[i]!;
    retained[idom[w]!]! += retained[w]!;
  }
  return retained;
}
