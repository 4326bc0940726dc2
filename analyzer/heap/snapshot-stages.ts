/**
 * The snapshots before the final one, each reduced to what N-snapshot confirmation needs:
 * its node ids (when each surviving object first appeared) and its count and size per
 * class (whether a class grew between consecutive snapshots). Edges are skipped while
 * parsing, so a stage costs its nodes and strings, not its graph.
 */
import { classNameForType, type Classes } from './class-names.js';
import { IdSet } from './id-set.js';
import { type ParallelParseOptions, parseSnapshotParallel } from './parallel-parse.js';

export interface ClassTotal {
  count: number;
  size: number;
}

export interface SnapshotStage {
  readonly file: string;
  readonly ids: IdSet;
  /** Count and self size per class (the DevTools Summary rule, class-names.ts). */
  readonly classes: ReadonlyMap<string, ClassTotal>;
  /** Sum of all self sizes. */
  readonly totalSize: number;
  /**
   * The target's leak groups and how many members first seen after the baseline each held
   * there (`targetStage` in leaks.ts); absent for a stage read for its nodes only.
   */
  readonly census?: ReadonlyMap<string, number>;
}

/** Class totals of a classified heap (the final snapshot's, already analysed). */
export function classTotals(classes: Classes, selfSize: ArrayLike<number>): Map<string, ClassTotal> {
  const count = new Float64Array(classes.names.length);
  const size = new Float64Array(classes.names.length);
  for (let i = 0; i < classes.classOf.length; i++) {
    const c = classes.classOf[i]!;
    count[c]!++;
    size[c]! += selfSize[i]!;
  }
  const out = new Map<string, ClassTotal>();
  classes.names.forEach((name, c) => out.set(name, { count: count[c]!, size: size[c]! }));
  return out;
}

/**
 * Reads one earlier snapshot as a stage: nodes and strings, no edges.
 * @example const s = await loadStage('target.heapsnapshot'); s.classes.get('Timeout')?.count
 */
export async function loadStage(file: string, opts: ParallelParseOptions = {}): Promise<SnapshotStage> {
  // On the parse workers too, beside the final snapshot's parse (its edges only checked).
  const raw = await parseSnapshotParallel(file, { ...opts, nodesOnly: true, keepStrings: true });
  const n = raw.nodes.count;
  const { type, name, id, selfSize } = raw.nodes;
  const types = raw.layout.nodeTypes;
  const named = Uint8Array.from(types, (t) => (t === 'object' || t === 'native' ? 1 : 0));
  const byType = new Map<number, ClassTotal>();
  const byName = new Map<number, ClassTotal>();
  let totalSize = 0;
  for (let i = 0; i < n; i++) {
    const t = type[i]!;
    const key = named[t] === 1 ? name[i]! : t;
    const m = named[t] === 1 ? byName : byType;
    let c = m.get(key);
    if (!c) m.set(key, (c = { count: 0, size: 0 }));
    c.count++;
    c.size += selfSize[i]!;
    totalSize += selfSize[i]!;
  }
  const classes = new Map<string, ClassTotal>();
  const add = (className: string, c: ClassTotal): void => {
    const have = classes.get(className);
    if (have) {
      have.count += c.count;
      have.size += c.size;
    } else classes.set(className, { ...c });
  };
  for (const [t, c] of byType) add(classNameForType(types[t]!), c);
  for (const [s, c] of byName) add(raw.strings.get(s) || '(anonymous)', c);
  return { file, ids: new IdSet(id.subarray(0, n)), classes, totalSize };
}
