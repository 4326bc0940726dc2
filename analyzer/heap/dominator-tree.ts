/**
 * The dominator tree as children lists, and a depth-first walk over it with enter/exit
 * callbacks. Aggregations that must not count a retained size twice ("retained size of a
 * class", "of a leak group") count only members with no same-group dominator above them.
 */
import type { Dominators } from './dominators.js';
import { ROOT } from './heap-graph.js';
import { Uint32Pool } from './scratch-pool.js';

export interface DominatorTree {
  readonly childFirst: Uint32Array;
  readonly children: Uint32Array;
}

export function buildDominatorTree(d: Dominators, pool = new Uint32Pool()): DominatorTree {
  const n = d.idom.length;
  const childFirst = pool.take(n + 1).fill(0);
  for (let i = 0; i < n; i++) if (i !== ROOT) childFirst[d.idom[i]!]!++;
  // Ends first (childFirst[v] = end of v's children); the fill moves each to its start.
  for (let i = 1; i <= n; i++) childFirst[i]! += childFirst[i - 1]!;
  const children = pool.take(Math.max(0, n - 1));
  // Filled backwards from each end, in reverse DFS preorder: siblings stay in DFS order,
  // which makes walks deterministic.
  for (let k = n - 1; k >= 0; k--) {
    const w = d.order[k]!;
    if (w !== ROOT) children[--childFirst[d.idom[w]!]!] = w;
  }
  return { childFirst, children };
}

/**
 * Sums `weight` per group over the nodes that have no ancestor of the same group in the
 * dominator tree. group[i] < 0 means "in no group".
 */
export function sumTopmostByGroup(
  t: DominatorTree,
  group: Int32Array,
  groupCount: number,
  weight: ArrayLike<number>,
): Float64Array {
  const sums = new Float64Array(groupCount);
  const onPath = new Uint32Array(groupCount);
  const n = group.length;
  // As deep as the dominator tree, which is far shallower than n on real heaps.
  let stackNode = new Uint32Array(Math.min(n, 1 << 12));
  let stackNext = new Uint32Array(stackNode.length);
  let sp = 0;
  stackNode[0] = ROOT;
  stackNext[0] = t.childFirst[ROOT]!;
  const enter = (v: number): void => {
    const gv = group[v]!;
    if (gv >= 0) {
      if (onPath[gv] === 0) sums[gv]! += weight[v]!;
      onPath[gv]!++;
    }
  };
  enter(ROOT);
  while (sp >= 0) {
    const v = stackNode[sp]!;
    const k = stackNext[sp]!;
    if (k < t.childFirst[v + 1]!) {
      stackNext[sp] = k + 1;
      const w = t.children[k]!;
      enter(w);
      if (++sp === stackNode.length) {
        const grownNode = new Uint32Array(Math.min(n, sp * 2));
        grownNode.set(stackNode);
        const grownNext = new Uint32Array(grownNode.length);
        grownNext.set(stackNext);
        stackNode = grownNode;
        stackNext = grownNext;
      }
      stackNode[sp] = w;
      stackNext[sp] = t.childFirst[w]!;
    } else {
      const gv = group[v]!;
      if (gv >= 0) onPath[gv]!--;
      sp--;
    }
  }
  return sums;
}

/**
 * The immediate dominator of every node, read back from the tree (the root's is itself):
 * the analysis keeps the tree only.
 * @example idomOf(analysis.tree)[node] // the node that dominates it
 */
export function idomOf(t: DominatorTree): Uint32Array {
  const n = t.childFirst.length - 1;
  const idom = new Uint32Array(n);
  for (let v = 0; v < n; v++) for (let k = t.childFirst[v]!; k < t.childFirst[v + 1]!; k++) idom[t.children[k]!] = v;
  return idom;
}
