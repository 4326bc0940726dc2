/**
 * Column stores filled while the `nodes` and `edges` arrays stream in. One typed array per
 * field (struct of arrays) keeps the resident graph at ~21 bytes per node and 9 bytes per
 * edge, well under the JSON text they come from. Numbers arrive in batches and are
 * scattered column by column: a tight loop per field instead of a switch per number.
 */
import { EdgeColumn, NodeColumn, type SnapshotLayout } from './snapshot-layout.js';

/** Receives the numbers of one flat JSON number array, a batch at a time. */
export interface NumberSink {
  pushBatch(values: Float64Array, count: number): void;
  /** Numbers per record: batches then hold whole records (except maybe the last). */
  readonly recordSize?: number;
}

export class NumberSinkError extends Error {}

const U32_MAX = 0xffffffff;
const INITIAL = 1 << 16;

/** A typed array of `n` elements, on a SharedArrayBuffer when `shared` (parse workers write into it). */
function alloc<T extends Uint8Array | Uint32Array>(
  Ctor: new (b: ArrayBufferLike) => T,
  bytesPer: number,
  n: number,
  shared: boolean,
): T {
  return new Ctor(shared ? new SharedArrayBuffer(n * bytesPer) : new ArrayBuffer(n * bytesPer));
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(a: T, size: number): T {
  const next = new (a.constructor as new (n: number) => T)(size);
  next.set(a.subarray(0, Math.min(a.length, size)));
  return next;
}

// Two copies of one loop on purpose: a single function storing into both Uint8Array and
// Uint32Array goes polymorphic and runs at a fraction of the speed.
function copyU32(
  dst: Uint32Array,
  v: Float64Array,
  k: number,
  len: number,
  step: number,
  row: number,
  max: number,
  what: string,
): void {
  for (; k < len; k += step, row++) {
    const x = v[k]!;
    if (x > max) throw new NumberSinkError(`${what} ${x} is out of range`);
    dst[row] = x;
  }
}
function copyU8(
  dst: Uint8Array,
  v: Float64Array,
  k: number,
  len: number,
  step: number,
  row: number,
  max: number,
  what: string,
): void {
  for (; k < len; k += step, row++) {
    const x = v[k]!;
    if (x > max) throw new NumberSinkError(`${what} ${x} is out of range`);
    dst[row] = x;
  }
}

export interface NodeColumnArrays {
  readonly count: number;
  readonly type: Uint8Array;
  readonly name: Uint32Array;
  readonly id: Uint32Array;
  readonly selfSize: Uint32Array | Float64Array;
  /** Dropped by HeapGraph once its firstEdge replaces the per-node counts. */
  edgeCount: Uint32Array;
  readonly traceNodeId: Uint32Array | null;
  readonly detachedness: Uint8Array | null;
}

export interface EdgeColumnArrays {
  readonly count: number;
  readonly type: Uint8Array;
  readonly nameOrIndex: Uint32Array;
  readonly toNode: Uint32Array;
}

/**
 * Column arrays made elsewhere (a parse split over threads: each writes its rows into
 * the same SharedArrayBuffers). The capacity is then fixed: a record past it, a self
 * size past 32 bits or an optional field these arrays lack throws ColumnsFullError, and
 * the caller parses the file in one thread instead.
 */
export class ColumnsFullError extends Error {}

/** Rows of fixed-width records spread over typed columns. */
abstract class RecordColumns implements NumberSink {
  count = 0;
  private field = 0;
  protected capacity: number;
  /** True when the arrays were handed in (see ColumnsFullError): they never grow. */
  protected readonly fixed: boolean;

  constructor(
    protected readonly columns: Uint8Array,
    protected readonly fieldCount: number,
    declared: number,
    fixed: boolean,
  ) {
    this.capacity = declared > 0 ? declared : INITIAL;
    this.fixed = fixed;
  }

  /** Continues at record `row`, field `field` (a part of the array parsed elsewhere comes before). */
  seek(row: number, field: number): void {
    this.count = row;
    this.field = field;
  }

  get recordSize(): number {
    return this.fieldCount;
  }

  /** Position in the record of the field stored in column kind `col`, or -1. */
  protected fieldOf(col: number): number {
    return this.columns.indexOf(col);
  }

  protected abstract grow(capacity: number): void;
  /**
   * Fast path for a batch of whole records starting at `row`: one pass over the batch,
   * every field stored. Returns false, having stored nothing that matters, when some
   * value needs the general path (which then reports it or handles it).
   */
  protected abstract writeRows(v: Float64Array, len: number, row: number): boolean;
  /** Writes v[k], v[k + step], ... of column kind `col` into rows row, row + 1, ... */
  protected abstract write(col: number, v: Float64Array, k: number, len: number, step: number, row: number): void;

  pushBatch(v: Float64Array, len: number): void {
    const nf = this.fieldCount;
    const f0 = this.field;
    const base = this.count;
    const rows = Math.ceil((f0 + len) / nf);
    if (base + rows > this.capacity) {
      if (this.fixed) throw new ColumnsFullError(`more records than the header's count (${this.capacity})`);
      this.capacity = Math.max(base + rows, Math.ceil(this.capacity * 1.5));
      this.grow(this.capacity);
    }
    if (f0 !== 0 && len > nf - f0) {
      // A batch that starts inside a record (a piece of the array parsed on its own): that
      // record's end, the whole records (the fast way), the start of the next.
      const head = nf - f0;
      const whole = len - head - ((len - head) % nf);
      this.pushBatch(v, head);
      if (whole > 0) this.pushBatch(v.subarray(head, head + whole), whole);
      if (head + whole < len) this.pushBatch(v.subarray(head + whole, len), len - head - whole);
      return;
    }
    if (f0 === 0 && len % nf === 0 && this.writeRows(v, len, base)) {
      this.count = base + len / nf;
      return;
    }
    for (let j = 0; j < nf; j++) {
      const k0 = (j - f0 + nf) % nf;
      if (k0 < len) this.write(this.columns[j]!, v, k0, len, nf, base + Math.floor((f0 + k0) / nf));
    }
    this.count = base + Math.floor((f0 + len) / nf);
    this.field = (f0 + len) % nf;
  }

  /** True when the array ended on a record boundary. */
  complete(): boolean {
    return this.field === 0;
  }
}

export class NodeColumns extends RecordColumns {
  private readonly typeCount: number;
  /** Record positions of type, name, id, self_size, edge_count (all required by the layout). */
  private readonly fields: number[];
  type: Uint8Array;
  name: Uint32Array;
  id: Uint32Array;
  /** 32-bit until some node's size needs more (a >4 GB backing store), then 64-bit float. */
  selfSize: Uint32Array | Float64Array;
  edgeCount: Uint32Array;
  /** Allocated only when some node has a non-zero trace id (allocation tracking was on). */
  traceNodeId: Uint32Array | null = null;
  /** Allocated only when some node is marked (browser DOM detachedness). */
  detachedness: Uint8Array | null = null;

  /** `into`: arrays to write into (fixed capacity, see ColumnsFullError) instead of new ones. */
  constructor(layout: SnapshotLayout, shared = false, into?: NodeColumnArrays) {
    super(layout.nodeColumns, layout.nodeFieldCount, into ? into.count : layout.declaredNodeCount, into !== undefined);
    this.typeCount = layout.nodeTypes.length;
    this.fields = [NodeColumn.Type, NodeColumn.Name, NodeColumn.Id, NodeColumn.SelfSize, NodeColumn.EdgeCount].map(
      (c) => this.fieldOf(c),
    );
    if (into) {
      ({ type: this.type, name: this.name, id: this.id, edgeCount: this.edgeCount } = into);
      this.selfSize = into.selfSize;
      this.traceNodeId = into.traceNodeId;
      this.detachedness = into.detachedness;
      return;
    }
    this.type = alloc(Uint8Array, 1, this.capacity, shared);
    this.name = alloc(Uint32Array, 4, this.capacity, shared);
    this.id = alloc(Uint32Array, 4, this.capacity, shared);
    this.selfSize = alloc(Uint32Array, 4, this.capacity, shared);
    this.edgeCount = alloc(Uint32Array, 4, this.capacity, shared);
  }

  /**
   * Shared arrays for `count` nodes, for the parse threads to fill (NodeColumns(…, into)).
   * The optional columns are allocated too but, never written, cost no memory.
   */
  static sharedArrays(layout: SnapshotLayout, count: number): NodeColumnArrays {
    return {
      count,
      type: alloc(Uint8Array, 1, count, true),
      name: alloc(Uint32Array, 4, count, true),
      id: alloc(Uint32Array, 4, count, true),
      selfSize: alloc(Uint32Array, 4, count, true),
      edgeCount: alloc(Uint32Array, 4, count, true),
      traceNodeId: layout.hasTraceNodeId ? alloc(Uint32Array, 4, count, true) : null,
      detachedness: layout.hasDetachedness ? alloc(Uint8Array, 1, count, true) : null,
    };
  }

  /** The columns as plain data: what a parse hands on (from a worker, without copying). */
  arrays(): NodeColumnArrays {
    const { count, type, name, id, selfSize, edgeCount, traceNodeId, detachedness } = this;
    return { count, type, name, id, selfSize, edgeCount, traceNodeId, detachedness };
  }

  protected writeRows(v: Float64Array, len: number, row: number): boolean {
    const size = this.selfSize;
    if (!(size instanceof Uint32Array)) return false;
    const nf = this.fieldCount;
    const [ft, fn, fi, fs, fe] = this.fields;
    const maxType = this.typeCount - 1;
    const { type, name, id, edgeCount } = this;
    for (let k = 0, r = row; k < len; k += nf, r++) {
      const t = v[k + ft]!;
      const n = v[k + fn]!;
      const i = v[k + fi]!;
      const s = v[k + fs]!;
      const e = v[k + fe]!;
      if (t > maxType || n > U32_MAX || i > U32_MAX || s > U32_MAX || e > U32_MAX) return false;
      type[r] = t;
      name[r] = n;
      id[r] = i;
      size[r] = s;
      edgeCount[r] = e;
    }
    // Optional fields, almost always all zero: the general strided loops.
    for (const col of [NodeColumn.TraceNodeId, NodeColumn.Detachedness]) {
      const f = this.fieldOf(col);
      if (f >= 0) this.write(col, v, f, len, nf, row);
    }
    return true;
  }

  /** True once some trace_node_id (detachedness) was not 0. */
  usedTrace = false;
  usedDetachedness = false;

  private optional<T extends Uint8Array | Uint32Array>(Ctor: new (n: number) => T): T {
    if (this.fixed) throw new ColumnsFullError('an optional field the shared columns lack');
    return new Ctor(this.capacity);
  }

  protected grow(c: number): void {
    this.type = grown(this.type, c);
    this.name = grown(this.name, c);
    this.id = grown(this.id, c);
    this.selfSize = grown(this.selfSize, c);
    this.edgeCount = grown(this.edgeCount, c);
    if (this.traceNodeId) this.traceNodeId = grown(this.traceNodeId, c);
    if (this.detachedness) this.detachedness = grown(this.detachedness, c);
  }

  protected write(col: number, v: Float64Array, k: number, len: number, step: number, row: number): void {
    switch (col) {
      case NodeColumn.Type:
        return copyU8(this.type, v, k, len, step, row, this.typeCount - 1, 'node type');
      case NodeColumn.Name:
        return copyU32(this.name, v, k, len, step, row, U32_MAX, 'node name index');
      case NodeColumn.Id:
        return copyU32(this.id, v, k, len, step, row, U32_MAX, 'node id');
      case NodeColumn.EdgeCount:
        return copyU32(this.edgeCount, v, k, len, step, row, U32_MAX, 'node edge count');
      case NodeColumn.SelfSize:
        for (let s = this.selfSize; k < len; k += step, row++) {
          const x = v[k]!;
          if (x > U32_MAX && s instanceof Uint32Array) {
            if (this.fixed) throw new ColumnsFullError('a self size past 32 bits');
            s = this.selfSize = Float64Array.from(s);
          }
          s[row] = x;
        }
        return;
      case NodeColumn.TraceNodeId:
        for (; k < len; k += step, row++)
          if (v[k] !== 0) {
            this.usedTrace = true;
            (this.traceNodeId ??= this.optional(Uint32Array))[row] = v[k]!;
          }
        return;
      case NodeColumn.Detachedness:
        for (; k < len; k += step, row++)
          if (v[k] !== 0) {
            this.usedDetachedness = true;
            (this.detachedness ??= this.optional(Uint8Array))[row] = v[k]!;
          }
        return;
      default:
        return;
    }
  }
}

export class EdgeColumns extends RecordColumns {
  private readonly nodeFieldCount: number;
  private readonly typeCount: number;
  /** Record positions of type, name_or_index, to_node (all required by the layout). */
  private readonly fields: number[];
  type: Uint8Array;
  nameOrIndex: Uint32Array;
  /** Target node index (to_node divided by the node field count). */
  toNode: Uint32Array;

  /** `into`: arrays to write into (fixed capacity, see ColumnsFullError) instead of new ones. */
  constructor(layout: SnapshotLayout, shared = false, into?: EdgeColumnArrays) {
    super(layout.edgeColumns, layout.edgeFieldCount, into ? into.count : layout.declaredEdgeCount, into !== undefined);
    this.nodeFieldCount = layout.nodeFieldCount;
    this.typeCount = layout.edgeTypes.length;
    this.fields = [EdgeColumn.Type, EdgeColumn.NameOrIndex, EdgeColumn.ToNode].map((c) => this.fieldOf(c));
    if (into) {
      ({ type: this.type, nameOrIndex: this.nameOrIndex, toNode: this.toNode } = into);
      return;
    }
    this.type = alloc(Uint8Array, 1, this.capacity, shared);
    this.nameOrIndex = alloc(Uint32Array, 4, this.capacity, shared);
    this.toNode = alloc(Uint32Array, 4, this.capacity, shared);
  }

  /** Shared arrays for `count` edges, for the parse threads to fill (EdgeColumns(…, into)). */
  static sharedArrays(count: number): EdgeColumnArrays {
    return {
      count,
      type: alloc(Uint8Array, 1, count, true),
      nameOrIndex: alloc(Uint32Array, 4, count, true),
      toNode: alloc(Uint32Array, 4, count, true),
    };
  }

  /** The columns as plain data: what a parse hands on (from a worker, without copying). */
  arrays(): EdgeColumnArrays {
    const { count, type, nameOrIndex, toNode } = this;
    return { count, type, nameOrIndex, toNode };
  }

  protected writeRows(v: Float64Array, len: number, row: number): boolean {
    const nf = this.fieldCount;
    const [ft, fn, fto] = this.fields;
    const maxType = this.typeCount - 1;
    const nodeFields = this.nodeFieldCount;
    const { type, nameOrIndex, toNode } = this;
    const inverse = 1 / nodeFields;
    for (let k = 0, r = row; k < len; k += nf, r++) {
      const t = v[k + ft]!;
      const n = v[k + fn]!;
      const x = v[k + fto]!;
      // A multiply instead of a divide; exact: x is a whole multiple of nodeFields or is refused.
      const to = Math.round(x * inverse);
      if (t > maxType || n > U32_MAX || to * nodeFields !== x || !(to >= 0 && to <= U32_MAX)) return false;
      type[r] = t;
      nameOrIndex[r] = n;
      toNode[r] = to;
    }
    return true;
  }

  protected grow(c: number): void {
    this.type = grown(this.type, c);
    this.nameOrIndex = grown(this.nameOrIndex, c);
    this.toNode = grown(this.toNode, c);
  }

  protected write(col: number, v: Float64Array, k: number, len: number, step: number, row: number): void {
    switch (col) {
      case EdgeColumn.Type:
        return copyU8(this.type, v, k, len, step, row, this.typeCount - 1, 'edge type');
      case EdgeColumn.NameOrIndex:
        return copyU32(this.nameOrIndex, v, k, len, step, row, U32_MAX, 'edge name or index');
      case EdgeColumn.ToNode: {
        const nf = this.nodeFieldCount;
        const t = this.toNode;
        for (; k < len; k += step, row++) {
          const x = v[k]! / nf;
          // Also rejects negatives and fractions: to_node must be a node's field offset.
          if (!(x >= 0 && x <= U32_MAX && Math.floor(x) === x))
            throw new NumberSinkError(`edge to_node ${v[k]} is not a node offset`);
          t[row] = x;
        }
        return;
      }
      default:
        return;
    }
  }
}

/** Keeps a flat array of small non-negative integers (e.g. `locations`). */
export class Uint32List implements NumberSink {
  data = new Uint32Array(1024);
  length = 0;
  pushBatch(v: Float64Array, len: number): void {
    if (this.length + len > this.data.length)
      this.data = grown(this.data, Math.max(this.length + len, this.data.length * 2));
    for (let k = 0; k < len; k++) this.data[this.length++] = Math.min(Math.max(v[k]!, 0), U32_MAX);
  }
}

/** Validates and drops the numbers of sections we do not use (samples, trace infos). */
export class CountingSink implements NumberSink {
  count = 0;
  pushBatch(_v: Float64Array, len: number): void {
    this.count += len;
  }
}
