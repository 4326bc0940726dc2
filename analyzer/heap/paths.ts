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
  /**
   * Edge through which BFS first reached each node; NONE for the root and for nodes
   * unreachable through non-weak edges. The node before is that edge's source
   * (`parentOf`): one array instead of three (parent node, distance) on multi-GB heaps.
   */
  readonly parentEdge: Uint32Array;
}

/** True when the node is the root or the search reached it. */
export function reached(p: ShortestPaths, node: number): boolean {
  return node === ROOT || p.parentEdge[node] !== NONE;
}

/** The node before `node` on its shortest path (NONE for the root and unreached nodes). */
export function parentOf(g: HeapGraph, p: ShortestPaths, node: number): number {
  const e = p.parentEdge[node]!;
  return e === NONE ? NONE : g.edgeSource(e);
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
  const queue = pool.take(n);
  let head = 0;
  let tail = 0;
  const weak = g.E.weak;
  const { firstEdge, edgeTo, edgeType } = g;
  const deferred: number[] = [];
  const visit = (e: number, w: number): void => {
    parentEdge[w] = e;
    if (g.nodeType[w] === g.T.synthetic && EPHEMERAL_ROOTS.has(g.name(w))) deferred.push(w);
    else queue[tail++] = w;
  };
  const drain = (): void => {
    while (head < tail) {
      const v = queue[head++]!;
      for (let e = firstEdge[v]!, end = firstEdge[v + 1]!; e < end; e++) {
        if (edgeType[e] === weak) continue;
        const w = edgeTo[e]!;
        if (parentEdge[w] === NONE && w !== ROOT) visit(e, w);
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
      if ((edgeType[e] === g.E.shortcut) !== wantShortcut || edgeType[e] === weak) continue;
      if (parentEdge[w] !== NONE || w === ROOT) continue;
      visit(e, w);
    }
    drain();
  }
  while (deferred.length > 0) {
    for (const d of deferred.splice(0)) queue[tail++] = d;
    drain();
  }
  pool.give(queue);
  return { parentEdge };
}

export interface PathStep {
  /** Edge from the previous step's node; absent for the first step. */
  readonly edge?: { readonly type: string; readonly name: string };
  /** Steps of a long path left out just before this one (renderPath shows them as "…"). */
  readonly skipped?: number;
  readonly node: {
    readonly index: number;
    readonly id: number;
    readonly type: string;
    readonly className: string;
    /** The node's name, cut to MAX_NAME characters (a string node's name is its text). */
    readonly name: string;
    readonly text: string;
  };
}

/** Nodes from the first node below the root down to `node`, or [] if unreachable. */
export function pathTo(g: HeapGraph, p: ShortestPaths, node: number): number[] {
  if (!reached(p, node)) return [];
  const nodes: number[] = [];
  for (let v = node; v !== ROOT; v = parentOf(g, p, v)) nodes.push(v);
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

const PART_OTHER = 0;
const PART_FIRST = 1;
const PART_SECOND = 2;
/** Edge name string index → PART_*, per string table: cons edges all share three names. */
const partKinds = new WeakMap<object, Map<number, number>>();

function partKind(g: HeapGraph, e: number): number {
  if (g.isIndexEdge(e)) return PART_OTHER;
  let kinds = partKinds.get(g.strings);
  if (!kinds) partKinds.set(g.strings, (kinds = new Map()));
  const s = g.edgeNameOrIndex[e]!;
  let k = kinds.get(s);
  if (k === undefined) {
    const n = g.edgeNamePrefix(e, 8);
    k = n === 'first' || n === 'parent' ? PART_FIRST : n === 'second' ? PART_SECOND : PART_OTHER;
    kinds.set(s, k);
  }
  return k;
}

/** Characters of a string label (a quoted label shows MAX_TEXT of them and "…" past that). */
const LABEL_CHARS = MAX_TEXT + 1;
/** Stages of a string's frame in stringText: parts not yet found; first part read; second part read. */
const START = 0;
const READ_FIRST = 1;
const READ_SECOND = 2;

/**
 * Texts of the string nodes labels have read, per graph. `whole`: the node's whole text,
 * or its first LABEL_CHARS characters (all a label can use). `prefix`: a shorter request's
 * answer, the text's first characters with more to come. `parts`: string nodes looked at.
 */
interface LabelMemo {
  readonly whole: Map<number, string>;
  readonly prefix: Map<number, string>;
  parts: number;
}
const labelMemos = new WeakMap<HeapGraph, LabelMemo>();

function labelMemo(g: HeapGraph): LabelMemo {
  let m = labelMemos.get(g);
  if (!m) labelMemos.set(g, (m = { whole: new Map(), prefix: new Map(), parts: 0 }));
  return m;
}

/**
 * String nodes the labels of `g` have looked at so far: the work counter the tests read
 * (a label's cost, whatever the depth of the chain it reads).
 */
export function labelWork(g: HeapGraph): number {
  return labelMemos.get(g)?.parts ?? 0;
}

/**
 * Up to `budget` (≤ LABEL_CHARS) characters of a string node's text. V8 names concatenated
 * strings generically, so their parts are read left to right, depth first with an explicit
 * stack (chains of 100,000 parts are common in programs that grow a string), asking each
 * part only for the characters still missing: O(budget) for a chain whose text starts near
 * its top. A left-deep chain (s = s + x, repeated) keeps its first characters at the
 * bottom, so its first label reads the chain down once; every answer is remembered per
 * graph, so any later label in that chain is O(1) and a whole analysis reads each part
 * about once. A sliced string shows its parent's text (V8 does not write the slice's
 * offset), as DevTools and memlab do. A part already being read (a cycle, only in a
 * corrupt file) reads as empty.
 */
function stringText(g: HeapGraph, node: number, budget: number): string {
  const memo = labelMemo(g);
  const { whole, prefix } = memo;
  const { concatString, slicedString } = g.T;
  const cut = (s: string, n: number): string => (s.length > n ? s.slice(0, n) : s);
  // Frames of the strings being read: node, characters wanted, stage, the first part's
  // text (once read) and the second part's node.
  const fNode: number[] = [];
  const fWant: number[] = [];
  const fStage: number[] = [];
  const fHead: string[] = [];
  const fSecond: number[] = [];
  const onStack = new Set<number>();
  /** Text of the string read last: a part's answer to the frame below it. */
  let result = '';
  // Reads `v` for `want` characters into `result`, from the memo or the string table, or
  // opens a frame for it and returns true (the loop then goes on with that frame).
  const open = (v: number, want: number): boolean => {
    memo.parts++;
    const w = whole.get(v) ?? prefix.get(v);
    if (w !== undefined && (w.length >= want || whole.has(v))) {
      result = cut(w, want);
      return false;
    }
    if (onStack.has(v)) {
      result = '';
      return false;
    }
    const t = g.nodeType[v];
    if (t !== concatString && t !== slicedString) {
      const text = g.namePrefix(v, LABEL_CHARS);
      whole.set(v, text);
      result = cut(text, want);
      return false;
    }
    fNode.push(v);
    fWant.push(want);
    fStage.push(START);
    fHead.push('');
    fSecond.push(NONE);
    onStack.add(v);
    return true;
  };
  // The top frame's string reads `text` (at most the characters it wanted).
  const close = (text: string): void => {
    const v = fNode.pop()!;
    const want = fWant.pop()!;
    fStage.pop();
    fHead.pop();
    fSecond.pop();
    onStack.delete(v);
    // Fewer characters than wanted: the whole text. As many: a prefix, unless that is all
    // a label ever wants.
    if (text.length < want || text.length >= LABEL_CHARS) {
      whole.set(v, text);
      prefix.delete(v);
    } else prefix.set(v, text);
    result = text;
  };
  if (!open(node, budget)) return result;
  while (fNode.length > 0) {
    const top = fNode.length - 1;
    const v = fNode[top]!;
    const want = fWant[top]!;
    const stage = fStage[top];
    if (stage === START) {
      let first = NONE;
      let second = NONE;
      // A string's few edges (first, second or parent, map); never more than 8 looked at.
      for (let e = g.firstEdge[v]!, end = Math.min(g.firstEdge[v + 1]!, e + 8); e < end; e++) {
        const k = partKind(g, e);
        if (k === PART_FIRST) first = g.edgeTo[e]!;
        else if (k === PART_SECOND) second = g.edgeTo[e]!;
      }
      if (first === NONE && second === NONE) {
        close(cut(g.namePrefix(v, LABEL_CHARS), want));
        continue;
      }
      fStage[top] = READ_FIRST;
      fSecond[top] = second;
      // Either `result` holds the first part's text now, or once its frame closes.
      if (first === NONE) result = '';
      else open(first, want);
    } else if (stage === READ_FIRST) {
      const second = fSecond[top]!;
      if (result.length >= want || second === NONE) {
        close(cut(result, want));
        continue;
      }
      fHead[top] = result;
      fStage[top] = READ_SECOND;
      open(second, want - result.length);
    } else close(fHead[top]! + result);
  }
  return result;
}

/** A short readable label: a string's text, a function's name, an object's class. */
export function nodeLabel(g: HeapGraph, c: Classes, node: number): string {
  const type = g.typeName(node);
  if (type === 'string' || type === 'concatenated string' || type === 'sliced string')
    return quote(stringText(g, node, LABEL_CHARS));
  const name = g.namePrefix(node, MAX_TEXT + 1);
  if (type === 'closure') return `${name || '(anonymous)'}()`;
  if (type === 'synthetic') return name || '(root)';
  if (type === 'number') return name;
  return c.names[c.classOf[node]!]!;
}

function edgeText(g: HeapGraph, e: number): string {
  const name = g.edgeNamePrefix(e, MAX_NAME).slice(0, MAX_NAME);
  return g.isIndexEdge(e) ? `[${name}]` : name;
}

/**
 * Steps kept of a long path: its first two and last 32, more than renderPath shows
 * (first 2, "…", last 9, each with the step before it), so that a path through a chain
 * of 100,000 objects costs as much as a short one.
 */
const PATH_HEAD = 2;
const PATH_TAIL = 32;
const MAX_NAME = 256;

/** Structured steps for `pathTo`; long paths keep their ends (see PATH_HEAD, PATH_TAIL). */
export function pathSteps(g: HeapGraph, c: Classes, p: ShortestPaths, nodes: readonly number[]): PathStep[] {
  const skipped = Math.max(0, nodes.length - PATH_HEAD - PATH_TAIL);
  const kept = skipped > 0 ? [...nodes.slice(0, PATH_HEAD), ...nodes.slice(nodes.length - PATH_TAIL)] : nodes;
  return kept.map((v, k) => {
    const node = {
      index: v,
      id: g.nodeId[v]!,
      type: g.typeName(v),
      className: c.names[c.classOf[v]!]!,
      name: g.namePrefix(v, MAX_NAME).slice(0, MAX_NAME),
      text: nodeLabel(g, c, v),
    };
    if (k === 0) return { node };
    const e = p.parentEdge[v]!;
    const edge = { type: g.edgeTypeName(e), name: edgeText(g, e) };
    return skipped > 0 && k === PATH_HEAD ? { edge, skipped, node } : { edge, node };
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
  let hidden = 0;
  const member = (holder: string, edge: string): string =>
    edge.startsWith('[') ? `${holder}${edge}` : `${holder}.${edge}`;
  for (let k = 0; k < steps.length; k++) {
    const s = steps[k]!;
    const last = k === steps.length - 1;
    hidden += s.skipped ?? 0;
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
  // The first two parts, "…", and the last maxSteps − 3. With steps left out (always
  // fewer than the tail kept), the first part after the gap has the wrong holder: never shown.
  if (hidden > 0)
    return [...parts.slice(0, 2), '…', ...parts.slice(Math.max(3, parts.length - maxSteps + 3))].join(' → ');
  if (parts.length > maxSteps) parts.splice(2, parts.length - maxSteps + 1, '…');
  return parts.join(' → ');
}
