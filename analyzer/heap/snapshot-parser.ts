/**
 * Streaming heap snapshot parser: reads a .heapsnapshot file (or any byte stream, e.g. a
 * worker's `getHeapSnapshot()`) chunk by chunk into typed columns and a string table.
 * Never holds the file, nor one giant JSON string, in memory, so multi-GB snapshots
 * (beyond V8's ~512 MB string limit, where JSON.parse-based tools stop) parse.
 */
import { open } from 'node:fs/promises';
import { LsError } from '../../common/errors.js';
import { CountingSink, EdgeColumns, NodeColumns, type NumberSink, Uint32List } from './snapshot-columns.js';
import { StringTable } from './string-table.js';
import { layoutFromHeader, type SnapshotLayout } from './snapshot-layout.js';
import { JsonSyntaxError, SnapshotTokenizer, type TokenizerHandler } from './snapshot-tokenizer.js';

export interface RawSnapshot {
  readonly file: string;
  readonly layout: SnapshotLayout;
  readonly nodes: NodeColumns;
  readonly edges: EdgeColumns;
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

const FLAT_SKIPPED = new Set(['trace_function_infos', 'samples']);

class SnapshotAssembler implements TokenizerHandler {
  layout: SnapshotLayout | null = null;
  nodes: NodeColumns | null = null;
  edges: EdgeColumns | null = null;
  readonly strings = new StringTable();
  readonly locations = new Uint32List();
  private readonly seen = new Set<string>();

  constructor(
    private readonly file: string,
    private readonly nodesOnly = false,
  ) {}

  private needLayout(key: string): SnapshotLayout {
    if (!this.layout)
      throw new LsError(
        'LS_ERR_BAD_SNAPSHOT',
        `${this.file}: not a V8 heap snapshot: expected the "snapshot" header before "${key}"`,
      );
    return this.layout;
  }

  wantsWhole(key: string): boolean {
    return key === 'snapshot';
  }
  whole(_key: string, value: unknown): void {
    this.layout = layoutFromHeader(value, this.file);
  }
  numberSink(key: string): NumberSink | null {
    if (key === 'nodes') return (this.nodes = new NodeColumns(this.needLayout(key)));
    if (key === 'edges') {
      const layout = this.needLayout(key);
      // Empty columns, and a sink that only counts, when the caller wants nodes only.
      this.edges = new EdgeColumns(this.nodesOnly ? { ...layout, declaredEdgeCount: 1 } : layout);
      return this.nodesOnly ? new CountingSink() : this.edges;
    }
    if (key === 'locations') return this.locations;
    if (FLAT_SKIPPED.has(key)) return new CountingSink();
    return null;
  }
  wantsStrings(key: string): boolean {
    return key === 'strings' && !this.nodesOnly;
  }
  stringPart(src: Buffer, start: number, end: number): void {
    this.strings.append(src, start, end);
  }
  stringEnd(): void {
    this.strings.end();
  }
  endValue(key: string): void {
    if (this.seen.has(key))
      throw new LsError('LS_ERR_BAD_SNAPSHOT', `${this.file}: corrupt snapshot: key "${key}" appears twice`);
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

  result(fileBytes: number): RawSnapshot {
    const missing = ['snapshot', 'nodes', 'edges', 'strings'].filter((k) => !this.seen.has(k));
    if (missing.length) {
      throw new LsError(
        'LS_ERR_BAD_SNAPSHOT',
        `${this.file}: not a V8 heap snapshot: expected the keys ${missing.map((k) => `"${k}"`).join(', ')}`,
      );
    }
    return {
      file: this.file,
      layout: this.layout!,
      nodes: this.nodes!,
      edges: this.edges!,
      strings: this.strings,
      locations: this.locations.data.subarray(0, this.locations.length),
      fileBytes,
    };
  }
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
  return asm.result(tok.bytesConsumed());
}

/**
 * Parses a .heapsnapshot file into typed columns. Library form of the parsing step of
 * `leakscope heap summary|diff|leaks`.
 * @example const raw = await parseSnapshotFile('run/snapshots/final.heapsnapshot');
 */
export async function parseSnapshotFile(file: string, opts: ParseOptions = {}): Promise<RawSnapshot> {
  let fh;
  try {
    fh = await open(file, 'r');
  } catch (e) {
    throw new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: cannot read heap snapshot: ${(e as Error).message}`, {
      cause: e,
    });
  }
  try {
    const total = (await fh.stat()).size;
    if (total === 0)
      throw new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: empty file, expected a V8 heap snapshot (JSON)`);
    const asm = new SnapshotAssembler(file, opts.nodesOnly);
    const tok = new SnapshotTokenizer(asm);
    const buf = Buffer.allocUnsafe(opts.chunkSize ?? 4 << 20);
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null);
        if (bytesRead === 0) break;
        tok.feed(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
        opts.onProgress?.('parse', tok.bytesConsumed(), total);
      }
      tok.finish();
    } catch (e) {
      throw syntaxError(file, e);
    }
    return asm.result(total);
  } finally {
    await fh.close();
  }
}
