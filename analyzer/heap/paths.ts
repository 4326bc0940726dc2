/**
 * Shortest retainer paths from the GC roots: breadth-first search from the synthetic root
 * over non-weak edges, by tiers (user globals, other roots, ephemeral roots), records each
 * node's parent edge; a path is then read back in O(length). Rendering uses the property
 * names a developer wrote.
 */
import type { Classes } from './class-names.js';
import { ROOT, type HeapGraph } from './heap-graph.js';
import { Uint32Pool } from './scratch-pool.js';

export const NONE = 0xffffffff;

export interface ShortestPaths {
  /** Edge through which BFS first reached each node; NONE for the root and unreachable nodes. */
  readonly parentEdge: Uint32Array;
  readonly parentNode: Uint32Array;
  /** Hops from the root along the chosen path; NONE when unreachable through non-weak edges. */
  readonly distance: Uint32Array;
}

/**
 * GC-root categories that only hold objects for the instant the snapshot was taken (the
 * stack and handle scopes of the code calling writeHeapSnapshot). Paths through them are
 * true but useless, so they are explored last.
 */
const EPHEMERAL_ROOTS = new Set(['(Stack roots)', '(Handle scope)']);

export function computeShortestPaths(g: HeapGraph, pool = new Uint32Pool()): ShortestPaths {
  const n = g.nodeCount;
  const parentEdge = pool.take(n).fill(NONE);
  const parentNode = pool.take(n).fill(NONE);
  const distance = pool.take(n).fill(NONE);
  const queue = pool.take(n);
  let head = 0;
  let tail = 0;
  distance[ROOT] = 0;
  const weak = g.E.weak;
  const { firstEdge, edgeTo, edgeType } = g;
  const deferred: number[] = [];
  const visit = (v: number, e: number, w: number): void => {
    distance[w] = distance[v]! + 1;
    parentEdge[w] = e;
    parentNode[w] = v;
    if (g.nodeType[w] === g.T.synthetic && EPHEMERAL_ROOTS.has(g.name(w))) deferred.push(w);
    else queue[tail++] = w;
  };
  const drain = (): void => {
    while (head < tail) {
      const v = queue[head++]!;
      for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
        if (edgeType[e] === weak) continue;
        const w = edgeTo[e]!;
        if (distance[w] === NONE) visit(v, e, w);
      }
    }
  };
  // Like DevTools, search from the user globals (the root's shortcut edges) first: an
  // object reachable from a program variable is shown by that path even when some V8
  // root list (strong roots, handles) reaches it in fewer hops. Then the other roots,
  // then the ephemeral ones.
  for (const wantShortcut of [true, false]) {
    for (let e = firstEdge[ROOT]!, end = firstEdge[ROOT + 1]!; e < end; e++) {
      const w = edgeTo[e]!;
      if ((edgeType[e] === g.E.shortcut) !== wantShortcut || edgeType[e] === weak || distance[w] !== NONE) continue;
      visit(ROOT, e, w);
    }
    drain();
  }
  while (deferred.length > 0) {
    for (const d of deferred.splice(0)) queue[tail++] = d;
    drain();
  }
  pool.give(queue);
  return { parentEdge, parentNode, distance };
}

export interface PathStep {
  /** Edge from the previous step's node; absent for the first step. */
  readonly edge?: { readonly type: string; readonly name: string };
  readonly node: {
    readonly index: number;
    readonly id: number;
    readonly type: string;
    readonly className: string;
    readonly name: string;
    readonly text: string;
  };
}

/** Nodes from the first node below the root down to `node`, or [] if unreachable. */
export function pathTo(p: ShortestPaths, node: number): number[] {
  if (p.distance[node] === NONE) return [];
  const nodes: number[] = [];
  for (let v = node; v !== ROOT; v = p.parentNode[v]!) nodes.push(v);
  return nodes.reverse();
}

const MAX_TEXT = 60;

function quote(s: string): string {
  const t = s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT)}…` : s;
  return JSON.stringify(t);
}

/** Node types that are V8 plumbing rather than something the program named. */
export function isInternalType(typeName: string): boolean {
  return (
    typeName === 'hidden' ||
    typeName === 'array' ||
    typeName === 'code' ||
    typeName === 'object shape' ||
    typeName === 'synthetic'
  );
}

/** Text of a string node; V8 names concatenated strings generically, so rebuild them from their parts. */
function stringText(g: HeapGraph, node: number, budget: number): string {
  if (g.nodeType[node] !== g.T.concatString) return g.name(node).slice(0, budget);
  let first = '';
  let second = '';
  for (let e = g.firstEdge[node]!, end = g.firstEdge[node + 1]!; e < end; e++) {
    const n = g.isIndexEdge(e) ? '' : g.edgeName(e);
    if (n === 'first') first = stringText(g, g.edgeTo[e]!, budget);
    else if (n === 'second') second = stringText(g, g.edgeTo[e]!, budget - first.length);
  }
  return (first + second).slice(0, budget);
}

/** A short readable label: a string's text, a function's name, an object's class. */
export function nodeLabel(g: HeapGraph, c: Classes, node: number): string {
  const type = g.typeName(node);
  const name = g.name(node);
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
    return quote(stringText(g, node, MAX_TEXT + 1));
  if (type === 'closure') return `${name || '(anonymous)'}()`;
  if (type === 'synthetic') return name || '(root)';
  if (type === 'number') return name;
  return c.names[c.classOf[node]!]!;
}

function edgeText(g: HeapGraph, e: number): string {
  const name = g.edgeName(e);
  return g.isIndexEdge(e) ? `[${name}]` : name;
}

/** Structured steps for `pathTo`. */
export function pathSteps(g: HeapGraph, c: Classes, p: ShortestPaths, nodes: readonly number[]): PathStep[] {
  return nodes.map((v, k) => {
    const node = {
      index: v,
      id: g.nodeId[v]!,
      type: g.typeName(v),
      className: c.names[c.classOf[v]!]!,
      name: g.name(v),
      text: nodeLabel(g, c, v),
    };
    if (k === 0) return { node };
    const e = p.parentEdge[v]!;
    return { edge: { type: g.edgeTypeName(e), name: edgeText(g, e) }, node };
  });
}

/**
 * Renders a path the way a developer reads it:
 * `(GC roots) → … → SessionCache.executors (Map) → table → "user_age,item_id->prob//0/"`.
 * A step held by a program object shows `Holder.property (Target)`; steps through V8
 * plumbing show only the edge name; the path's end shows the value itself.
 */
export function renderPath(steps: readonly PathStep[], maxSteps = 12): string {
  const parts: string[] = [];
  const member = (holder: string, edge: string): string =>
    edge.startsWith('[') ? `${holder}${edge}` : `${holder}.${edge}`;
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!;
    const last = k === steps.length - 1;
    if (!s.edge) {
      parts.push(s.node.text);
      continue;
    }
    const holder = steps[k - 1]!.node;
    const internalTarget = isInternalType(s.node.type);
    if (last) {
      const text = s.node.type === 'object' || s.node.type === 'native' ? `${s.node.text}@${s.node.id}` : s.node.text;
      parts.push(
        internalTarget || isInternalType(holder.type) ? text : `${member(holder.className, s.edge.name)} (${text})`,
      );
    } else if (internalTarget) {
      parts.push(s.node.type === 'synthetic' ? s.node.text : s.edge.name);
    } else if (isInternalType(holder.type)) {
      parts.push(`${s.edge.name} (${s.node.text})`);
    } else {
      parts.push(`${member(holder.className, s.edge.name)} (${s.node.text})`);
    }
  }
  if (parts.length > maxSteps) parts.splice(2, parts.length - maxSteps + 1, '…');
  return parts.join(' → ');
}
