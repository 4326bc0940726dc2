/**
 * Immediate dominators by the iterative algorithm of Cooper, Harvey and Kennedy ("A Simple,
 * Fast Dominance Algorithm", 2001), the one DevTools uses, on the same typed arrays and
 * with the same rules as `computeDominators` (semi-NCA): weak edges do not retain,
 * shortcuts retain only from the root, unreachable nodes hang off the root. Lives with the
 * benchmark, not in analyzer/: `bench:heap` measures it against semi-NCA on real heap
 * graphs, and test/heap/dominators.test.ts checks the two agree. The analysis keeps
 * semi-NCA: it is faster on the benchmark's heaps, and this one is quadratic when a deep
 * dominator tree meets a node with many deep predecessors — a 100,000-long chain whose
 * links share one object took 55 s here (the chain test in test/heap/labels.test.ts; bench:heap
 * prints both on a 30,000-long one) — and heaps are full of long lists sharing a shape.
 */
import type { Dominators } from '../../analyzer/heap/dominators.js';
import { ROOT, type HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { Uint32Pool } from '../../analyzer/heap/scratch-pool.js';

const UNDEF = 0xffffffff;

/** Retaining predecessors by node index: retFrom[retFirst[i] .. retFirst[i + 1]) retain node i. */
interface Retainers {
  readonly retFirst: Uint32Array;
  readonly retFrom: Uint32Array;
}

/** The retaining edges reversed, in two counting passes (no sorting). */
function buildRetainers(g: HeapGraph): Retainers {
  const n = g.nodeCount;
  const { firstEdge: first, edgeTo: to, edgeType: type } = g;
  const weak = g.E.weak;
  const shortcut = g.E.shortcut;
  const retFirst = new Uint32Array(n + 1);
  let kept = 0;
  for (let src = 0; src < n; src++) {
    for (let e = first[src]!, end = first[src + 1]!; e < end; e++) {
      const t = type[e];
      if (t === weak || (t === shortcut && src !== ROOT)) continue;
      retFirst[to[e]! + 1]!++;
      kept++;
    }
  }
  for (let i = 0; i < n; i++) retFirst[i + 1]! += retFirst[i]!;
  const fill = retFirst.slice(0, n);
  const retFrom = new Uint32Array(kept);
  for (let src = 0; src < n; src++) {
    for (let e = first[src]!, end = first[src + 1]!; e < end; e++) {
      const t = type[e];
      if (t === weak || (t === shortcut && src !== ROOT)) continue;
      retFrom[fill[to[e]!]!++] = src;
    }
  }
  return { retFirst, retFrom };
}

/** Computes immediate dominators iteratively. */
export function computeDominatorsIterative(g: HeapGraph, pool = new Uint32Pool()): Dominators {
  const r = buildRetainers(g);
  const { nodeCount: n, firstEdge: first, edgeTo: to, edgeType: etype } = g;
  const { weak, shortcut } = g.E;
  // Postorder numbers; the root is last (n − 1): unreachable nodes are explored as
  // virtual children of the root once its real edges are done.
  const po = pool.take(n).fill(UNDEF);
  const nodeOf = pool.take(n); // postorder number → node
  const stackNode = pool.take(n);
  const stackEdge = pool.take(n);
  const virtualChild = new Uint8Array(n);
  let next = 0;
  let sp = 0;
  let scan = 0; // next node to check for the virtual edges
  let reachableCount = 0;
  let inReal = true;
  stackNode[0] = ROOT;
  stackEdge[0] = first[ROOT]!;
  po[ROOT] = UNDEF - 1; // visited, not yet numbered
  while (sp >= 0) {
    const v = stackNode[sp]!;
    const e = stackEdge[sp]!;
    let w = UNDEF;
    if (e < first[v + 1]!) {
      stackEdge[sp] = e + 1;
      const t = etype[e];
      if (t === weak || (t === shortcut && v !== ROOT)) continue;
      w = to[e]!;
      if (po[w] !== UNDEF) continue;
    } else if (sp === 0) {
      if (inReal) {
        inReal = false;
        reachableCount = next + 1;
      }
      while (scan < n && po[scan] !== UNDEF) scan++;
      if (scan < n) {
        w = scan;
        virtualChild[w] = 1;
      }
    }
    if (w === UNDEF) {
      po[v] = next;
      nodeOf[next++] = v;
      sp--;
      continue;
    }
    po[w] = UNDEF - 1;
    sp++;
    stackNode[sp] = w;
    stackEdge[sp] = first[w]!;
  }
  pool.give(stackNode, stackEdge);

  // Predecessors as postorder numbers; idom indexed by postorder number.
  const { retFirst, retFrom } = r;
  for (let k = 0; k < retFrom.length; k++) retFrom[k] = po[retFrom[k]!]!;
  const idom = pool.take(n).fill(UNDEF);
  const root = n - 1;
  idom[root] = root;
  for (let changed = true; changed; ) {
    changed = false;
    for (let b = root - 1; b >= 0; b--) {
      const v = nodeOf[b]!;
      let d = virtualChild[v] === 1 ? root : UNDEF;
      for (let k = retFirst[v]!, end = retFirst[v + 1]!; k < end; k++) {
        let p = retFrom[k]!;
        if (idom[p] === UNDEF) continue;
        if (d === UNDEF) {
          d = p;
          continue;
        }
        // Intersect: walk the two fingers up the current dominator tree until they meet.
        let q = d;
        while (p !== q) {
          while (p < q) p = idom[p]!;
          while (q < p) q = idom[q]!;
        }
        d = p;
      }
      if (d !== UNDEF && idom[b] !== d) {
        idom[b] = d;
        changed = true;
      }
    }
  }

  // Back to node indices. Order: reverse postorder (a dominator before the nodes it
  // dominates), the nodes reachable through retaining edges first.
  const idomNode = po; // po is dead from here on: reuse it
  const order = pool.take(n);
  let k = 0;
  let u = reachableCount;
  for (let b = root; b >= 0; b--) {
    const v = nodeOf[b]!;
    idomNode[v] = nodeOf[idom[b]!]!;
    // Reachable: the root and the real subtrees, numbered before the virtual ones.
    if (b === root || b < reachableCount - 1) order[k++] = v;
    else order[u++] = v;
  }
  pool.give(nodeOf, idom, retFirst);
  return { idom: idomNode, order, reachableCount };
}
