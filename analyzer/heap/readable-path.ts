/**
 * A retainer path as a developer reads it: the structures Node and V8 build out of many
 * small steps are folded into one named step each, and closures carry their source line.
 * - a linked list or ring (a timer list's `_idleNext`/`_idlePrev` chain, any `next` chain):
 *   "timer list (_idleNext) ×1,200";
 * - an EventEmitter's `_events` → event name → listener array:
 *   "`bus` listeners for 'config-changed' ×1,919";
 * - a Map's or Set's backing table: "`cache` Map entries ×2,000";
 * - a closure: "closure `onConfig` at app.js:12" (snapshot `locations`, source-locations.ts).
 * Work per path is its length plus, for a folded collection, one pass over that
 * collection's edges (only for the few top groups a report shows).
 */
import type { Classes } from './class-names.js';
import type { HeapGraph } from './heap-graph.js';
import { isInternalType, NONE, nodeLabel, type ShortestPaths } from './paths.js';
import { closureLocation, describeClosure, heldCallback, type SourceLocation } from './source-locations.js';

export interface CodeSite extends SourceLocation {
  /** closure: a function on the retainer path; callback: the function the leaked object holds. */
  readonly kind: 'closure' | 'callback';
}

export interface ReadablePath {
  readonly text: string;
  readonly sites: readonly CodeSite[];
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const MAX_PARTS = 12;

/** Element edges of a node (a JS array's length, a hash table's used slots). */
function elementCount(g: HeapGraph, v: number): number {
  let n = 0;
  for (let e = g.firstEdge[v]!, end = g.firstEdge[v + 1]!; e < end; e++) if (g.isIndexEdge(e)) n++;
  return n;
}

/** Entries of a Map's or Set's table: its slots that hold a heap object, per entry (key + value for a Map). */
function tableEntries(g: HeapGraph, table: number, isMap: boolean): number {
  let n = 0;
  for (let e = g.firstEdge[table]!, end = g.firstEdge[table + 1]!; e < end; e++) {
    if (g.isIndexEdge(e) || /^\d+$/.test(g.edgeNamePrefix(e, 12))) n++;
  }
  return isMap ? Math.ceil(n / 2) : n;
}

/**
 * Readable form of the path through `nodes` (from the first node below the root, as
 * pathTo gives them), with the code sites found on it.
 * @example readablePath(g, classes, paths, pathTo(paths, i)).text
 */
export function readablePath(g: HeapGraph, c: Classes, p: ShortestPaths, nodes: readonly number[]): ReadablePath {
  const parts: string[] = [];
  const sites: CodeSite[] = [];
  const edgeName = (v: number): string => {
    const e = p.parentEdge[v]!;
    if (e === NONE) return '';
    const name = g.edgeNamePrefix(e, 64);
    return g.isIndexEdge(e) ? `[${name}]` : name;
  };
  const cls = (v: number): string => c.names[c.classOf[v]!]!;
  // A holder is named by the variable or property the program wrote (not by V8's own
  // edges, e.g. a bound function's `bound_this`), else by its class.
  const holderName = (k: number): string => {
    const e = k > 0 ? p.parentEdge[nodes[k]!]! : NONE;
    const named = e !== NONE && (g.edgeType[e] === g.E.property || g.edgeType[e] === g.E.context);
    const name = named ? edgeName(nodes[k]!) : '';
    return name && !name.startsWith('[') ? name : cls(nodes[k]!);
  };
  const closurePart = (v: number): string | null => {
    const loc = closureLocation(g, v);
    if (!loc) return null;
    sites.push({ kind: 'closure', ...loc });
    return describeClosure(loc);
  };

  for (let k = 0; k < nodes.length; k++) {
    const v = nodes[k]!;
    const last = k === nodes.length - 1;
    // A chain through one property name: a linked list or a ring.
    if (k > 0 && !last) {
      const name = edgeName(v);
      let end = k;
      // The chain stops before the path's end, whose own step names the leaked object.
      while (end + 2 < nodes.length && !name.startsWith('[') && edgeName(nodes[end + 1]!) === name) end++;
      if (end - k + 1 >= 3) {
        const what = cls(nodes[end]!) === 'Timeout' ? 'timer list' : `${cls(nodes[end]!)} list`;
        parts.push(`${what} (${name}) ×${fmt(end - k + 1)}`);
        k = end;
        continue;
      }
    }
    // EventEmitter: emitter._events[event] → listener (or array of listeners).
    if (!last && edgeName(nodes[k + 1]!) === '_events' && k + 2 < nodes.length) {
      const event = edgeName(nodes[k + 2]!);
      const list = nodes[k + 2]!;
      const isArray = g.nodeType[list] === g.T.object && cls(list) === 'Array';
      const n = isArray ? elementCount(g, list) : 1;
      parts.push(`\`${holderName(k)}\` listeners for '${event}' ×${fmt(n)}`);
      k += isArray && k + 3 < nodes.length ? 2 : 1;
      // The listener itself (next step) is shown below, by its closure location.
      continue;
    }
    // Map / Set: collection → table → slot.
    const className = cls(v);
    if (
      !last &&
      (className === 'Map' || className === 'Set' || className === 'WeakMap') &&
      edgeName(nodes[k + 1]!) === 'table'
    ) {
      const table = nodes[k + 1]!;
      parts.push(`\`${holderName(k)}\` ${className} entries ×${fmt(tableEntries(g, table, className !== 'Set'))}`);
      k += 1;
      continue;
    }
    const type = g.typeName(v);
    const closure = type === 'closure' ? closurePart(v) : null;
    if (closure) parts.push(closure);
    else if (k === 0 || type === 'synthetic') parts.push(nodeLabel(g, c, v));
    // A function's scope: the next step's name is the variable, which says it all.
    else if (!last && className === 'system / Context') continue;
    else if (isInternalType(type)) parts.push(edgeName(v));
    else {
      const name = edgeName(v);
      const label = nodeLabel(g, c, v);
      parts.push(name.startsWith('[') || !name || /^\d+$/.test(name) ? label : `${name} (${label})`);
    }
    if (last) {
      const cb = heldCallback(g, v);
      const loc = cb >= 0 ? closureLocation(g, cb) : null;
      if (loc) {
        sites.push({ kind: 'callback', ...loc });
        parts[parts.length - 1] += ` holding ${describeClosure(loc, 'callback')}`;
      }
    }
  }
  if (parts.length > MAX_PARTS) parts.splice(2, parts.length - MAX_PARTS + 1, '…');
  return { text: parts.join(' → '), sites };
}
