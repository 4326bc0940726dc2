/**
 * A snapshot parse that uses two cores. V8 writes a snapshot's top-level keys in one order
 * — snapshot (header), nodes, edges, trace data, locations, strings — so the file splits
 * at the `"edges"` and `"strings"` keys: a worker parses header and nodes, a second worker
 * edges through locations, and this thread the strings, each reading its own byte range in
 * 4 MB chunks (no whole-file buffer: files larger than memory still parse). Workers write
 * their columns into SharedArrayBuffers, so nothing is copied when they hand them over.
 * The split points are found by scanning the bytes for the two keys (at memchr speed),
 * which cannot occur elsewhere before the strings: the header holds no such text and the
 * rest is numbers. Files that do not split that way are parsed in one thread. A nodes-only
 * parse (an earlier snapshot of a leak analysis) splits the same way, its edges only
 * checked. On two cores this three-way split already keeps both busy: a parse cut into
 * ~4 MB pieces that workers take in turn (branch heap-parse) measured slower here, its
 * count pass, piece string tables and their join being extra work with no core to spare.
 * A worker that fails or dies ends the parse with an error naming it; never a hang.
 */
import { Worker, type ResourceLimits } from 'node:worker_threads';
import { LsError, type ErrorCode } from '../../common/errors.js';
import type { WorkerJob, WorkerReply } from './parse-worker.js';
import {
  mergeParts,
  openSnapshot,
  parseSnapshotFile,
  parseSnapshotPart,
  type ParseOptions,
  type RawSnapshot,
  type SnapshotPart,
} from './snapshot-parser.js';
import type { SnapshotLayout } from './snapshot-layout.js';

export interface ParallelParseOptions extends ParseOptions {
  /** 'auto' (default): workers for files of 16 MB and more; true: always; false: never. */
  readonly workers?: boolean | 'auto';
  /** Limits for each parse worker's V8 heap (their columns live outside it). */
  readonly workerResourceLimits?: ResourceLimits;
  /** For tests: the worker for this part throws, or exits as if killed, after its first read. */
  readonly failWorker?: { readonly part: 'nodes' | 'edges'; readonly how: 'throw' | 'exit' };
}

const AUTO_MIN_BYTES = 16 << 20;
const WORKER_URL = new URL('./parse-worker.js', import.meta.url);

/**
 * Byte offsets of each key, found in the order given, scanning forward from `from`; -1 for
 * a key that is absent (and for the keys after it). Also used by bench:heap to cut out the
 * number arrays.
 * @example const [edgesAt, stringsAt] = await findKeys(file, 0, ['"edges":[', '"strings":[']);
 */
export async function findKeys(file: string, from: number, keys: readonly string[]): Promise<number[]> {
  const { fh } = await openSnapshot(file);
  const found = keys.map(() => -1);
  try {
    const buf = Buffer.allocUnsafe(4 << 20);
    const overlap = Math.max(...keys.map((k) => k.length)) - 1;
    let pos = from;
    let k = 0;
    while (k < keys.length) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      const view = buf.subarray(0, bytesRead);
      let at = view.indexOf(keys[k]!);
      while (at >= 0) {
        found[k] = pos + at;
        if (++k === keys.length) break;
        at = view.indexOf(keys[k]!, at);
      }
      if (bytesRead < buf.length) break;
      pos += bytesRead - overlap;
    }
    return found;
  } finally {
    await fh.close();
  }
}

/** The header, read by the tokenizer up to the "nodes" key; null when the file does not start that way. */
async function readHeader(file: string): Promise<SnapshotLayout | null> {
  try {
    const part = await parseSnapshotPart(file, 0, { stopKey: 'nodes', chunkSize: 64 << 10 });
    return part.seen.length === 1 && part.layout ? part.layout : null;
  } catch {
    return null; // the one-thread parse reports it, with its byte offset
  }
}

function runWorker(job: WorkerJob, what: string, limits: ResourceLimits | undefined, onStart: (w: Worker) => void) {
  return new Promise<Extract<WorkerReply, { ok: true }>>((resolve, reject) => {
    const fail = (code: ErrorCode, message: string): void => reject(new LsError(code, message));
    let w: Worker;
    try {
      w = new Worker(WORKER_URL, { workerData: job, ...(limits ? { resourceLimits: limits } : {}) });
    } catch (e) {
      fail('LS_ERR_INTERNAL', `${job.file}: cannot start the heap parse worker for ${what}: ${(e as Error).message}`);
      return;
    }
    onStart(w);
    let replied = false;
    w.on('message', (m: WorkerReply) => {
      replied = true;
      if (m.ok) resolve(m);
      // A bad file names itself; anything else is the worker's failure.
      else
        fail(
          m.code as ErrorCode,
          m.code === 'LS_ERR_INTERNAL'
            ? `${job.file}: the heap parse worker for ${what} failed: ${m.message}`
            : m.message,
        );
    });
    w.on('error', (e) =>
      fail('LS_ERR_INTERNAL', `${job.file}: the heap parse worker for ${what} failed: ${e.message}`),
    );
    w.on('exit', (code) => {
      if (!replied)
        fail(
          'LS_ERR_INTERNAL',
          `${job.file}: the heap parse worker for ${what} stopped (exit code ${code}) before finishing`,
        );
    });
  });
}

/**
 * Parses a snapshot file using worker threads for its nodes and edges (see above); the
 * same result as parseSnapshotFile.
 * @example const raw = await parseSnapshotParallel('final.heapsnapshot');
 */
export async function parseSnapshotParallel(file: string, opts: ParallelParseOptions = {}): Promise<RawSnapshot> {
  const { fh, size } = await openSnapshot(file);
  await fh.close();
  const wanted = opts.workers ?? 'auto';
  if (wanted === false || (wanted === 'auto' && size < AUTO_MIN_BYTES)) return parseSnapshotFile(file, opts);
  const layout = await readHeader(file);
  if (!layout) return parseSnapshotFile(file, opts);

  const workers: Worker[] = [];
  let failed = false;
  const track = (w: Worker): void => void workers.push(w);
  const job = (part: 'nodes' | 'edges'): Pick<WorkerJob, 'chunkSize' | 'fail' | 'nodesOnly'> => ({
    ...(opts.chunkSize ? { chunkSize: opts.chunkSize } : {}),
    ...(opts.nodesOnly ? { nodesOnly: true } : {}),
    ...(opts.failWorker?.part === part ? { fail: opts.failWorker.how } : {}),
  });
  const nodesPart = runWorker(
    { file, start: 0, stopKey: 'edges', ...job('nodes') },
    '"nodes"',
    opts.workerResourceLimits,
    track,
  );
  // Keep the rejection handled until it is awaited below, so a failure ends everything at once.
  nodesPart.catch(() => undefined);
  const stop = (): void => {
    failed = true;
    for (const w of workers) void w.terminate();
  };
  try {
    const [edgesAt, stringsAt] = await findKeys(file, 0, ['"edges":[', '"strings":[']);
    if (edgesAt < 0 || stringsAt < 0 || stringsAt < edgesAt) {
      // Not V8's order, or truncated: the nodes worker reports a truncation with its offset.
      await nodesPart;
      stop();
      return parseSnapshotFile(file, opts);
    }
    const edgesPart = runWorker(
      { file, start: edgesAt, stopKey: 'strings', layout, ...job('edges') },
      '"edges"',
      opts.workerResourceLimits,
      track,
    );
    edgesPart.catch(() => undefined);
    const stringsPart = parseSnapshotPart(file, stringsAt, { layout, aborted: () => failed }, opts);
    const [a, b, c] = await Promise.all([
      nodesPart.catch((e) => {
        stop();
        throw e;
      }),
      edgesPart.catch((e) => {
        stop();
        throw e;
      }),
      stringsPart.catch((e) => {
        stop();
        throw e;
      }),
    ]);
    const parts: SnapshotPart[] = [
      { ...a, layout, edges: null, strings: null },
      { ...b, layout, nodes: null, strings: null },
      c,
    ];
    return mergeParts(file, parts, size);
  } catch (e) {
    stop();
    throw e;
  }
}
