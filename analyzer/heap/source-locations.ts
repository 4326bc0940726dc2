/**
 * Source locations of closures in a heap snapshot. V8 writes a `locations` section
 * (object_index, script_id, line, column per closure, 0-based) and keeps each function's
 * script reachable from the closure: closure → `shared` (SharedFunctionInfo) →
 * `script_or_debug_info` (the Script, a "code" node named by its URL; a DebugInfo when a
 * debugger is attached, whose `script` edge leads on). So a closure found on a retainer
 * path reads "closure `onConfig` at app.js:12" without the inspector. Each look-up visits
 * a closure's few edges and two more nodes' first edges: O(1) per closure.
 */
import type { HeapAllocationSite, HeapCodeSite, HeapSourceLine } from '../../common/analysis-format.js';
import type { HeapGraph } from './heap-graph.js';

export interface SourceLocation {
  readonly functionName: string;
  /** The script's URL or path as V8 names it; '' when the snapshot does not say. */
  readonly url: string;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
}

/** Edges looked at per node when following shared → script: a SharedFunctionInfo has ~5. */
const MAX_EDGES = 16;

/** Node index → location entry (index into locations / fields), built once per graph. */
const byNode = new WeakMap<HeapGraph, Map<number, number>>();

function locationIndex(g: HeapGraph): Map<number, number> {
  let m = byNode.get(g);
  if (m) return m;
  m = new Map();
  const f = g.locationFieldCount;
  const nf = g.nodeFieldCount;
  for (let k = 0; k + 3 < g.locations.length; k += f) {
    const raw = g.locations[k]!;
    if (raw % nf === 0) m.set(raw / nf, k);
  }
  byNode.set(g, m);
  return m;
}

/** Where the first of `node`'s first MAX_EDGES edges named one of `names` points, or -1. */
const edgeNamed = (g: HeapGraph, node: number, ...names: string[]): number => g.edgeNamed(node, MAX_EDGES, ...names);

/** The URL of the script a closure's function comes from, or ''. */
function scriptUrl(g: HeapGraph, closure: number): string {
  const shared = edgeNamed(g, closure, 'shared');
  if (shared < 0) return '';
  let script = edgeNamed(g, shared, 'script_or_debug_info', 'script');
  if (script >= 0 && g.typeName(script) !== 'code') return '';
  if (script >= 0 && g.namePrefix(script, 9).startsWith('system /')) script = edgeNamed(g, script, 'script');
  if (script < 0) return '';
  const name = g.namePrefix(script, 512);
  return name.startsWith('system /') || name.startsWith('(') ? '' : name;
}

/**
 * Where a closure's function is defined, or null when `node` is not a closure or the
 * snapshot has no location for it.
 * @example closureLocation(g, i) // { functionName: 'onConfig', url: '/srv/app.js', line: 12, column: 44 }
 */
export function closureLocation(g: HeapGraph, node: number): SourceLocation | null {
  if (g.nodeType[node] !== g.T.closure) return null;
  const k = locationIndex(g).get(node);
  if (k === undefined) return null;
  return {
    functionName: g.namePrefix(node, 128) || '(anonymous)',
    url: scriptUrl(g, node),
    line: g.locations[k + 2]! + 1,
    column: g.locations[k + 3]! + 1,
  };
}

/** "app.js:12" from a URL or path and a line: the last path part, as a stack trace's reader scans it. */
export function shortSource(url: string, line: number): string {
  if (!url) return `(unknown script):${line}`;
  const clean = url.replace(/^file:\/\//, '');
  const base = clean.startsWith('node:') ? clean : (clean.split(/[\\/]/).pop() ?? clean);
  return `${base}:${line}`;
}

/** "closure `onConfig` at app.js:12". */
export function describeClosure(loc: SourceLocation, what = 'closure'): string {
  return `${what} \`${loc.functionName}\` at ${shortSource(loc.url, loc.line)}`;
}

/** Property names through which Node's own objects hold the user's callback. */
const CALLBACK_EDGES = ['_onTimeout', 'listener', 'callback', 'handler', 'fn', 'cb', '_onImmediate'];

/**
 * The closure an object holds as its callback (a Timeout's `_onTimeout`, a wrapped
 * listener's `listener`), among its first MAX_EDGES edges, or -1: what a timer leak's
 * objects say about the code that made them.
 */
export function heldCallback(g: HeapGraph, node: number): number {
  for (let e = g.firstEdge[node]!, end = Math.min(g.firstEdge[node + 1]!, e + MAX_EDGES); e < end; e++) {
    if (g.isIndexEdge(e) || g.nodeType[g.edgeTo[e]!] !== g.T.closure) continue;
    if (CALLBACK_EDGES.includes(g.edgeNamePrefix(e, 24))) return g.edgeTo[e]!;
  }
  return -1;
}

/** The statement's code as shown, in backquotes. */
const codeText = (text: string | undefined): string => (text ? ` (\`${text}\`)` : '');

/**
 * "allocated at cache.js:31 (`new Entry(n)`) in `remember`", "kept at app.js:21
 * (`connections.add(socket);`)", "closure `onConfig` at app.js:12".
 */
export function describeSourceLine(s: HeapSourceLine): string {
  if (s.how === 'closure' || s.how === 'callback')
    return describeClosure(
      { functionName: s.functionName ?? '(anonymous)', url: s.url, line: s.line, column: 0 },
      s.how,
    );
  const fn = s.functionName ? ` in \`${s.functionName}\`` : '';
  return `${s.how} at ${shortSource(s.url, s.line)}${codeText(s.text)}${fn}`;
}

/**
 * One line naming a leak group's code, most exact first: the statement that makes or
 * keeps its objects (source-lines.ts), where the profile says they were allocated (the
 * function's line), and the closures on its path or held by it (snapshot), e.g.
 * "allocated at cache.js:33 (`new Entry(n)`) in `remember`; closure `onConfig` at app.js:12".
 * The profile's "largest unexplained site" is a guess, said (as one) only when no
 * statement was found: next to a found line it named the wrong function too often (a
 * request handler for a Worker made two calls down). '' when nothing is known.
 */
export function describeSources(
  codeSites: readonly HeapCodeSite[] = [],
  allocationSites: readonly HeapAllocationSite[] = [],
  sourceLine?: HeapSourceLine,
): string {
  const parts: string[] = [];
  if (sourceLine) parts.push(describeSourceLine(sourceLine));
  const a = allocationSites[0];
  if (a && (a.matchedBy !== 'largest' || !sourceLine) && a.functionName !== sourceLine?.functionName) {
    const where = `${shortSource(a.url, a.line)} in \`${a.functionName}\``;
    parts.push(
      a.matchedBy === 'constructor'
        ? `allocated at ${where}`
        : a.matchedBy === 'enclosing'
          ? `made at ${where}`
          : `largest surviving sampled allocations at ${where}`,
    );
  }
  // Nearest the leaked objects first (the callback they hold, then the last closure on
  // the path); Node's own functions (node:…) are the route, not the code to fix. With a
  // statement found, the closures on the path are only the route to it (a request
  // handler, a signal handler reaching the server): the readable path shows them.
  const seen = new Set<string>(sourceLine ? [parts[0]!] : []);
  const nearest = [
    ...codeSites.filter((s) => s.kind === 'callback'),
    ...(sourceLine ? [] : codeSites.filter((s) => s.kind === 'closure').reverse()),
  ];
  for (const s of nearest) {
    if (s.url.startsWith('node:')) continue;
    const text = describeClosure(s, s.kind);
    if (seen.has(text) || parts.length === 3) continue;
    seen.add(text);
    parts.push(text);
  }
  return parts.join('; ');
}
