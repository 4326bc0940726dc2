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
  for (let i = 0; i < n; i++) if (i !== ROOT) childFirst[d.idom[i]! + 1]!++;
  for (let i = 0; i < n; i++) childFirst[i + 1]! += childFirst[i]!;
  const fill = pool.take(n);
  fill.set(childFirst.subarray(0, n));
  const children = pool.take(Math.max(0, n - 1));
  // Preorder keeps siblings in DFS order, which makes walks deterministic.
  for (const w of d.order) if (w !== ROOT) children[fill[d.idom[w]!]!++] = w;
  pool.give(fill);
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
  weight: Float64Array,
  pool = new Uint32Pool(),
): Float64Array {
  const sums = new Float64Array(groupCount);
  const onPath = new Uint32Array(groupCount);
  const n = group.length;
  const stackNode = pool.take(n);
  const stackNext = pool.take(n);
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
      sp++;
      stackNode[sp] = w;
      stackNext[sp] = t.childFirst[w]!;
    } else {
      const gv = group[v]!;
      if (gv >= 0) onPath[gv]!--;
      sp--;
    }
  }
  pool.give(stackNode, stackNext);
  return sums;
}
