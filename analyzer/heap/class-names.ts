/**
 * Class of each node, by the rule of DevTools' Summary view: objects and native objects
 * by their constructor name; everything else by node type in parentheses — "(string)",
 * "(closure)", "(array)", "(compiled code)", and V8 internals ("hidden") as "(system)".
 */
import type { HeapGraph } from './heap-graph.js';
import type { Uint32Pool } from './scratch-pool.js';

export interface Classes {
  /** Class index of each node. */
  readonly classOf: Int32Array;
  readonly names: readonly string[];
}

export function classNameForType(typeName: string): string {
  if (typeName === 'hidden') return '(system)';
  if (typeName === 'code') return '(compiled code)';
  return `(${typeName})`;
}

/**
 * Class of every node. With a pool, the class column and the lookup table are taken from
 * its dead arrays (the table goes back), so that no new memory is touched.
 */
export function classify(g: HeapGraph, pool?: Uint32Pool): Classes {
  const names: string[] = [];
  const byName = new Map<string, number>();
  const intern = (s: string): number => {
    let k = byName.get(s);
    if (k === undefined) {
      k = names.length;
      names.push(s);
      byName.set(s, k);
    }
    return k;
  };
  // Type classes are interned on first use so that no class has zero members.
  const byType = Int32Array.from(g.nodeTypes, (t) => (t === 'object' || t === 'native' ? -1 : -2));
  // Object classes keyed by name string index: one lookup per distinct name, not per node.
  // Sized by the largest index objects use, not by all strings (tens of millions).
  let maxName = 0;
  for (let i = 0; i < g.nodeCount; i++)
    if (byType[g.nodeType[i]!] === -1 && g.nodeName[i]! > maxName) maxName = g.nodeName[i]!;
  const n = g.nodeCount;
  const table = pool && maxName < n ? pool.take(maxName + 1) : null;
  const byString = (table ? new Int32Array(table.buffer, 0, maxName + 1) : new Int32Array(maxName + 1)).fill(-1);
  const classOf = pool ? new Int32Array(pool.take(n).buffer, 0, n) : new Int32Array(n);
  for (let i = 0; i < g.nodeCount; i++) {
    const type = g.nodeType[i]!;
    let t = byType[type]!;
    if (t === -2) t = byType[type] = intern(classNameForType(g.nodeTypes[type]!));
    if (t >= 0) {
      classOf[i] = t;
      continue;
    }
    const s = g.nodeName[i]!;
    let c = byString[s]!;
    if (c < 0) c = byString[s] = intern(g.strings.get(s) || '(anonymous)');
    classOf[i] = c;
  }
  if (table) pool!.give(table);
  return { classOf, names };
}
