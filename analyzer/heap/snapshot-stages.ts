/**
 * The snapshots before the target, each reduced to what N-snapshot confirmation needs:
 * its node ids (when each surviving object first appeared) and its heap size. Edges and
 * strings are skipped while parsing, so a stage costs its nodes, not its graph. (The
 * target is read whole, for its group census: `targetStage` in leaks.ts.)
 */
import { IdSet } from './id-set.js';
import { type ParallelParseOptions, parseSnapshotParallel } from './parallel-parse.js';

export interface SnapshotStage {
  readonly file: string;
  readonly ids: IdSet;
  /** Sum of all self sizes. */
  readonly totalSize: number;
}

/**
 * Reads one earlier snapshot as a stage: its nodes, no edges or strings.
 * @example const s = await loadStage('s2.heapsnapshot'); s.ids.has(id)
 */
export async function loadStage(file: string, opts: ParallelParseOptions = {}): Promise<SnapshotStage> {
  // On the parse workers too, beside the other snapshots' parses (edges only checked).
  const raw = await parseSnapshotParallel(file, { ...opts, nodesOnly: true });
  const n = raw.nodes.count;
  const { id, selfSize } = raw.nodes;
  let totalSize = 0;
  for (let i = 0; i < n; i++) totalSize += selfSize[i]!;
  return { file, ids: new IdSet(id.subarray(0, n)), totalSize };
}
