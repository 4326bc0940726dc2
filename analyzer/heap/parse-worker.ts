/**
 * A parse worker: parses one part of a snapshot file (see parallel-parse.ts) into columns
 * on SharedArrayBuffers and hands them to the main thread; arrays that had to grow past
 * the header's counts are moved (transferred), never copied.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { LsError } from '../../common/errors.js';
import type { EdgeColumnArrays, NodeColumnArrays } from './snapshot-columns.js';
import type { SnapshotLayout } from './snapshot-layout.js';
import { parseSnapshotPart } from './snapshot-parser.js';

/** What a worker is asked to parse: `file` from byte `start` up to the key `stopKey`. */
export interface WorkerJob {
  readonly file: string;
  readonly start: number;
  readonly stopKey: string;
  /** The header's layout, for a part that starts after it. */
  readonly layout?: SnapshotLayout;
  readonly chunkSize?: number;
  /** Keep the nodes only: the edges are checked, not kept (an earlier snapshot of a leak analysis). */
  readonly nodesOnly?: boolean;
  /** For tests: after its first read the worker throws, or exits as if killed. */
  readonly fail?: 'throw' | 'exit';
}

export type WorkerReply =
  | {
      readonly ok: true;
      readonly seen: readonly string[];
      readonly nodes: NodeColumnArrays | null;
      readonly edges: EdgeColumnArrays | null;
      readonly locations: Uint32Array | null;
    }
  | { readonly ok: false; readonly code: string; readonly message: string };

async function run(): Promise<WorkerReply> {
  const job = workerData as WorkerJob;
  let reads = 0;
  const injected = (): boolean => {
    if (job.fail && ++reads === 2) {
      if (job.fail === 'exit') process.exit(3);
      throw new Error('failure injected by a test');
    }
    return false;
  };
  try {
    const part = await parseSnapshotPart(
      job.file,
      job.start,
      {
        stopKey: job.stopKey,
        shared: true,
        ...(job.layout ? { layout: job.layout } : {}),
        ...(job.chunkSize ? { chunkSize: job.chunkSize } : {}),
        ...(job.fail ? { aborted: injected } : {}),
      },
      { nodesOnly: job.nodesOnly ?? false },
    );
    return {
      ok: true,
      seen: [...part.seen],
      nodes: part.nodes,
      edges: part.edges,
      locations: part.locations,
    };
  } catch (e) {
    const err = e as Error;
    return { ok: false, code: e instanceof LsError ? e.code : 'LS_ERR_INTERNAL', message: err.message };
  }
}

// Imported for its types by parallel-parse.ts: run only as a worker.
const reply = parentPort ? await run() : null;
const moved: ArrayBuffer[] = [];
if (reply?.ok) {
  for (const cols of [reply.nodes, reply.edges])
    for (const a of Object.values(cols ?? {}))
      if (ArrayBuffer.isView(a) && a.buffer instanceof ArrayBuffer && !moved.includes(a.buffer)) moved.push(a.buffer);
  if (reply.locations && !moved.includes(reply.locations.buffer as ArrayBuffer))
    moved.push(reply.locations.buffer as ArrayBuffer);
}
if (reply) parentPort!.postMessage(reply, moved);
