/**
 * Reverse edges as compressed sparse rows, holding only the edges that retain (not weak;
 * shortcut only from the root, as in DevTools): predecessor lists for the dominators. Only the sources
 * are stored — 4 bytes per edge — since that is all Lengauer–Tarjan reads.
 */
import { ROOT, type HeapGraph } from './heap-graph.js';

export interface Retainers {
  /** Retainers of node i are retFrom[retFirst[i] .. retFirst[i + 1]). */
  readonly retFirst: Uint32Array;
  readonly retFrom: Uint32Array;
}

/** Builds the retainer index in two counting passes (no sorting). */
export function buildRetainers(g: HeapGraph): Retainers {
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
