/**
 * Streaming heap snapshot parser: reads a .heapsnapshot file (or any byte stream, e.g. a
 * worker's `getHeapSnapshot()`) chunk by chunk into typed columns and a string table.
 * Never holds the file, nor one giant JSON string, in memory, so multi-GB snapshots
 * (beyond V8's ~512 MB string limit, where JSON.parse-based tools stop) parse.
 */
import { type FileHandle, open, stat } from 'node:fs/promises';
import { LsError } from '../../common/errors.js';
import {
  CountingSink,
  type EdgeColumnArrays,
  EdgeColumns,
  type NodeColumnArrays,
  NodeColumns,
  type NumberSink,
  Uint32List,
} from './snapshot-columns.js';
import { FileStringTable, MemoryStringTable, type StringSink, type StringTable } from './string-table.js';
import { layoutFromHeader, type SnapshotLayout } from './snapshot-layout.js';
import { JsonSyntaxError, SnapshotTokenizer, type TokenizerHandler } from './snapshot-tokenizer.js';

export interface RawSnapshot {
  readonly file: string;
  readonly layout: SnapshotLayout;
  readonly nodes: NodeColumnArrays;
  readonly edges: EdgeColumnArrays;
  readonly strings: StringTable;
  /** Flat `locations` array (object_index, script_id, line, column per entry), if present. */
  readonly locations: Uint32Array;
  readonly fileBytes: number;
}

/** Progress of a long operation; `done`/`total` in the unit the phase uses (bytes, nodes). */
export type ProgressFn = (phase: string, done: number, total: number) => void;

export interface ParseOptions {
  readonly onProgress?: ProgressFn;
  /** Read size; tests use tiny chunks to cross every token boundary. */
  readonly chunkSize?: number;
  /** Keep only the nodes; edges and strings are checked and skipped (edges/strings come back empty). */
  readonly nodesOnly?: boolean;
}

/** How to parse one part of a file (parse workers each take one; see parallel-parse.ts). */
export interface PartOptions {
  /** The layout, for a part that starts after the header. */
  readonly layout?: SnapshotLayout;
  /** Stop before this top-level key (where the next part starts). */
  readonly stopKey?: string;
  /** Node and edge columns on SharedArrayBuffers, for a worker to hand over. */
  readonly shared?: boolean;
  readonly chunkSize?: number;
  /** Checked between reads: true when the analysis gave up (another part failed). */
  readonly aborted?: () => boolean;
  /** Size of the file parsed: its strings are then left in it (FileStringTable). */
  readonly fileBytes?: number;
}

/** What one part of a file held. */
export interface SnapshotPart {
  readonly seen: readonly string[];
  readonly layout: SnapshotLayout | null;
  readonly nodes: NodeColumnArrays | null;
  readonly edges: EdgeColumnArrays | null;
  readonly strings: StringTable | null;
  readonly locations: Uint32Array | null;
}

const FLAT_SKIPPED = new Set(['trace_function_infos', 'samples']);

class SnapshotAssembler implements TokenizerHandler {
  layout: SnapshotLayout | null;
  nodes: NodeColumns | null = null;
  edges: EdgeColumns | null = null;
  strings: StringSink | null = null;
  locations: Uint32List | null = null;
  private readonly seen = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly nodesOnly = false,
    private readonly part: PartOptions = {},
  ) {
    this.layout = part.layout ?? null;
  }

  private needLayout(key: string): SnapshotLayout {
    if (!this.layout)
      throw new LsError(
        'LS_ERR_BAD_SNAPSHOT',
        `${this.file}: not a V8 heap snapshot: expected the "snapshot" header before "${key}"`,
      );
    return this.layout;
  }

  stopAt(key: string): boolean {
    return key === this.part.stopKey;
  }
  wantsWhole(key: string): boolean {
    return key === 'snapshot';
  }
  whole(_key: string, value: unknown): void {
    this.layout = layoutFromHeader(value, this.file);
  }
  numberSink(key: string): NumberSink | null {
    const shared = this.part.shared ?? false;
    if (key === 'nodes') return (this.nodes = new NodeColumns(this.needLayout(key), shared));
    if (key === 'edges') {
      const layout = this.needLayout(key);
      // Empty columns, and a sink that only counts, when the caller wants nodes only.
      this.edges = new EdgeColumns(this.nodesOnly ? { ...layout, declaredEdgeCount: 1 } : layout, shared);
      return this.nodesOnly ? new CountingSink() : this.edges;
    }
    if (key === 'locations') return (this.locations = new Uint32List());
    if (FLAT_SKIPPED.has(key)) return new CountingSink();
    return null;
  }
  wantsStrings(key: string): boolean {
    if (key !== 'strings' || this.nodesOnly) return false;
    // From a file the strings stay there (string-table.ts); a stream's are kept in memory.
    this.strings = this.part.fileBytes ? new FileStringTable(this.file, this.part.fileBytes) : new MemoryStringTable();
    return true;
  }
  stringPart(src: Buffer, start: number, end: number, at: number): void {
    this.strings!.append(src, start, end, at);
  }
  stringEnd(): void {
    this.strings!.end();
  }
  endValue(key: string): void {
    if (this.seen.has(key)) throw duplicateKey(this.file, key);
    this.seen.add(key);
    if (key === 'nodes' && !this.nodes!.complete()) {
      throw new LsError(
        'LS_ERR_BAD_SNAPSHOT',
        `${this.file}: corrupt snapshot: "nodes" length is not a multiple of ${this.layout!.nodeFieldCount} fields`,
      );
    }
    if (key === 'edges' && !this.nodesOnly && !this.edges!.complete()) {
      throw new LsError(
        'LS_ERR_BAD_SNAPSHOT',
        `${this.file}: corrupt snapshot: "edges" length is not a multiple of ${this.layout!.edgeFieldCount} fields`,
      );
    }
  }

  result(): SnapshotPart {
    return {
      seen: [...this.seen],
      layout: this.layout,
      nodes: this.nodes?.arrays() ?? null,
      edges: this.edges?.arrays() ?? null,
      strings: this.strings,
      locations: this.locations ? this.locations.data.subarray(0, this.locations.length) : null,
    };
  }
}

const duplicateKey = (file: string, key: string): LsError =>
  new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: corrupt snapshot: key "${key}" appears twice`);

/** One snapshot from the parts of its file (one part when parsed in one go). */
export function mergeParts(file: string, parts: readonly SnapshotPart[], fileBytes: number): RawSnapshot {
  const seen = new Set<string>();
  for (const p of parts)
    for (const k of p.seen) {
      if (seen.has(k)) throw duplicateKey(file, k);
      seen.add(k);
    }
  const missing = ['snapshot', 'nodes', 'edges', 'strings'].filter((k) => !seen.has(k));
  if (missing.length) {
    throw new LsError(
      'LS_ERR_BAD_SNAPSHOT',
      `${file}: not a V8 heap snapshot: expected the keys ${missing.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  const pick = <K extends keyof SnapshotPart>(k: K): NonNullable<SnapshotPart[K]> | null =>
    (parts.find((p) => p[k] !== null)?.[k] ?? null) as NonNullable<SnapshotPart[K]> | null;
  return {
    file,
    layout: pick('layout')!,
    nodes: pick('nodes')!,
    edges: pick('edges')!,
    strings: pick('strings') ?? new MemoryStringTable(),
    locations: pick('locations') ?? new Uint32Array(0),
    fileBytes,
  };
}

function syntaxError(file: string, e: unknown): unknown {
  if (!(e instanceof JsonSyntaxError)) return e;
  return new LsError(
    'LS_ERR_BAD_SNAPSHOT',
    `${file}: truncated or corrupt heap snapshot at byte ${e.offset}: ${e.message}`,
  );
}

/** Parses a snapshot from any async iterable of byte chunks (a stream). */
export async function parseSnapshotStream(
  chunks: AsyncIterable<Buffer | Uint8Array | string>,
  name: string,
  opts: ParseOptions = {},
): Promise<RawSnapshot> {
  const asm = new SnapshotAssembler(name, opts.nodesOnly);
  const tok = new SnapshotTokenizer(asm);
  try {
    for await (const chunk of chunks) {
      const buf =
        typeof chunk === 'string'
          ? Buffer.from(chunk)
          : Buffer.isBuffer(chunk)
            ? chunk
            : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      tok.feed(buf);
      opts.onProgress?.('parse', tok.bytesConsumed(), 0);
    }
    tok.finish();
  } catch (e) {
    throw syntaxError(name, e);
  }
  return mergeParts(name, [asm.result()], tok.bytesConsumed());
}

/** Opens a snapshot file for reading, with the messages every reader gives. */
export async function openSnapshot(file: string): Promise<{ fh: FileHandle; size: number }> {
  let fh: FileHandle;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: cannot read heap snapshot: ${(e as Error).message}`, {
      cause: e,
    });
  }
  const size = (await fh.stat()).size;
  if (size === 0) {
    await fh.close();
    throw new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: empty file, expected a V8 heap snapshot (JSON)`);
  }
  return { fh, size };
}

/**
 * Parses the part of a file that starts at byte `start` (0, or a top-level key's opening
 * quote) up to `part.stopKey` or the end. Used whole by parseSnapshotFile, and one part
 * per thread by the parallel parse.
 */
export async function parseSnapshotPart(
  file: string,
  start: number,
  part: PartOptions = {},
  opts: ParseOptions = {},
): Promise<SnapshotPart> {
  const { fh, size } = await openSnapshot(file);
  try {
    const asm = new SnapshotAssembler(file, opts.nodesOnly, { ...part, fileBytes: size });
    // A part after the start is fed as an object of its own: "{" then its keys.
    const tok = new SnapshotTokenizer(asm, start > 0 ? start - 1 : 0);
    const buf = Buffer.allocUnsafe(part.chunkSize ?? opts.chunkSize ?? 4 << 20);
    let pos = start;
    try {
      if (start > 0) tok.feed(Buffer.from('{'));
      while (!tok.stopped) {
        if (part.aborted?.()) return asm.result();
        const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        tok.feed(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
        opts.onProgress?.('parse', pos, size);
      }
      if (!tok.stopped) tok.finish();
    } catch (e) {
      throw syntaxError(file, e);
    }
    return asm.result();
  } finally {
    await fh.close();
  }
}

/**
 * Parses a .heapsnapshot file into typed columns, in one thread. Library form of the
 * parsing step of `leakscope heap summary|diff|leaks` (which use the parallel parse,
 * parallel-parse.ts, for large files).
 * @example const raw = await parseSnapshotFile('run/snapshots/final.heapsnapshot');
 */
export async function parseSnapshotFile(file: string, opts: ParseOptions = {}): Promise<RawSnapshot> {
  const part = await parseSnapshotPart(file, 0, {}, opts);
  const { size } = await stat(file);
  return mergeParts(file, [part], size);
}
