/**
 * The heap graph as compressed sparse rows: node columns plus a first-edge index per node,
 * edge columns in node order (as V8 writes them). Every index is a plain integer into
 * typed arrays; no per-node objects, so graphs of tens of millions of nodes fit.
 */
import { LsError } from '../../common/errors.js';
import { lastAtMost } from './sorted.js';
import type { RawSnapshot } from './snapshot-parser.js';
import type { StringTable } from './string-table.js';

/** Node 0 is V8's synthetic root; the GC roots and user globals hang off it. */
export const ROOT = 0;

export class HeapGraph {
  readonly file: string;
  readonly nodeCount: number;
  readonly edgeCount: number;
  readonly nodeType: Uint8Array;
  readonly nodeName: Uint32Array;
  readonly nodeId: Uint32Array;
  readonly selfSize: Uint32Array | Float64Array;
  /** Edges of node i are [firstEdge[i], firstEdge[i + 1]). */
  readonly firstEdge: Uint32Array;
  readonly edgeType: Uint8Array;
  readonly edgeNameOrIndex: Uint32Array;
  readonly edgeTo: Uint32Array;
  readonly strings: StringTable;
  readonly nodeTypes: readonly string[];
  readonly edgeTypes: readonly string[];
  readonly locations: Uint32Array;
  readonly locationFieldCount: number;
  /** Fields per node in the file: a location's object_index is node index × this. */
  readonly nodeFieldCount: number;
  readonly fileBytes: number;
  /** The snapshot's header object (meta, counts) as written. */
  readonly header: Readonly<Record<string, unknown>>;
  /** Edge types whose name_or_index is a number rather than a string index. */
  private readonly indexEdge: Uint8Array;
  /** Type index by name, -1 when the snapshot has no such type. */
  readonly T: Readonly<
    Record<
      | 'hidden'
      | 'array'
      | 'string'
      | 'object'
      | 'code'
      | 'closure'
      | 'native'
      | 'synthetic'
      | 'number'
      | 'objectShape'
      | 'concatString'
      | 'slicedString',
      number
    >
  >;
  readonly E: Readonly<
    Record<'context' | 'element' | 'property' | 'internal' | 'hidden' | 'shortcut' | 'weak', number>
  >;

  constructor(raw: RawSnapshot) {
    const { nodes, edges, layout } = raw;
    const bad = (what: string): LsError =>
      new LsError('LS_ERR_BAD_SNAPSHOT', `${raw.file}: corrupt heap snapshot: ${what}`);
    this.file = raw.file;
    this.nodeCount = nodes.count;
    this.edgeCount = edges.count;
    if (this.nodeCount === 0) throw bad('expected at least the synthetic root node, found no nodes');
    this.nodeType = nodes.type.subarray(0, this.nodeCount);
    this.nodeName = nodes.name.subarray(0, this.nodeCount);
    this.nodeId = nodes.id.subarray(0, this.nodeCount);
    this.selfSize = nodes.selfSize.subarray(0, this.nodeCount);
    this.edgeType = edges.type.subarray(0, this.edgeCount);
    this.edgeNameOrIndex = edges.nameOrIndex.subarray(0, this.edgeCount);
    this.edgeTo = edges.toNode.subarray(0, this.edgeCount);
    this.strings = raw.strings;
    this.nodeTypes = layout.nodeTypes;
    this.edgeTypes = layout.edgeTypes;
    this.locations = raw.locations;
    this.locationFieldCount = layout.locationFieldCount;
    this.nodeFieldCount = layout.nodeFieldCount;
    this.fileBytes = raw.fileBytes;
    this.header = layout.header;
    const nt = (n: string): number => layout.nodeTypes.indexOf(n);
    const et = (n: string): number => layout.edgeTypes.indexOf(n);
    this.T = {
      hidden: nt('hidden'),
      array: nt('array'),
      string: nt('string'),
      object: nt('object'),
      code: nt('code'),
      closure: nt('closure'),
      native: nt('native'),
      synthetic: nt('synthetic'),
      number: nt('number'),
      objectShape: nt('object shape'),
      concatString: nt('concatenated string'),
      slicedString: nt('sliced string'),
    };
    this.E = {
      context: et('context'),
      element: et('element'),
      property: et('property'),
      internal: et('internal'),
      hidden: et('hidden'),
      shortcut: et('shortcut'),
      weak: et('weak'),
    };
    this.indexEdge = new Uint8Array(layout.edgeTypes.length);
    if (this.E.element >= 0) this.indexEdge[this.E.element] = 1;
    if (this.E.hidden >= 0) this.indexEdge[this.E.hidden] = 1;

    const counts = nodes.edgeCount;
    const first = new Uint32Array(this.nodeCount + 1);
    let sum = 0;
    const stringCount = raw.strings.count;
    for (let i = 0; i < this.nodeCount; i++) {
      first[i] = sum;
      sum += counts[i]!;
      if (this.nodeName[i]! >= stringCount)
        throw bad(`node ${i} names string ${this.nodeName[i]}, but there are ${stringCount} strings`);
    }
    first[this.nodeCount] = sum;
    if (sum !== this.edgeCount) throw bad(`nodes declare ${sum} edges but "edges" holds ${this.edgeCount}`);
    this.firstEdge = first;
    // firstEdge replaces the per-node counts; drop them so they do not stay resident.
    nodes.edgeCount = new Uint32Array(0);
    for (let e = 0; e < this.edgeCount; e++) {
      if (this.edgeTo[e]! >= this.nodeCount)
        throw bad(`edge ${e} points to node ${this.edgeTo[e]}, past the ${this.nodeCount} nodes`);
      if (this.indexEdge[this.edgeType[e]!] === 0 && this.edgeNameOrIndex[e]! >= stringCount) {
        throw bad(`edge ${e} names string ${this.edgeNameOrIndex[e]}, but there are ${stringCount} strings`);
      }
    }
  }

  /** Sum of all self sizes. */
  totalSize(): number {
    let s = 0;
    for (let i = 0; i < this.nodeCount; i++) s += this.selfSize[i]!;
    return s;
  }

  name(node: number): string {
    return this.strings.get(this.nodeName[node]!);
  }

  /** The first `maxChars` or so characters of the node's name: O(maxChars), for labels. */
  namePrefix(node: number, maxChars: number): string {
    return this.strings.prefix(this.nodeName[node]!, maxChars);
  }

  typeName(node: number): string {
    return this.nodeTypes[this.nodeType[node]!]!;
  }

  edgeTypeName(edge: number): string {
    return this.edgeTypes[this.edgeType[edge]!]!;
  }

  /** True when the edge carries an index (element, hidden) rather than a name. */
  isIndexEdge(edge: number): boolean {
    return this.indexEdge[this.edgeType[edge]!] === 1;
  }

  /** The edge's property name, variable name or index as a string. */
  edgeName(edge: number): string {
    const v = this.edgeNameOrIndex[edge]!;
    return this.isIndexEdge(edge) ? String(v) : this.strings.get(v);
  }

  /** The edge's name cut to about `maxChars` characters: O(maxChars), for labels. */
  edgeNamePrefix(edge: number, maxChars: number): string {
    const v = this.edgeNameOrIndex[edge]!;
    return this.isIndexEdge(edge) ? String(v) : this.strings.prefix(v, maxChars);
  }

  /** The node an edge leaves from: a binary search over firstEdge, O(log n). */
  edgeSource(edge: number): number {
    // The last node whose edges start at or before `edge` (nodes with no edges share a start).
    return lastAtMost(this.firstEdge, this.nodeCount, edge);
  }

  /**
   * Where the first of `node`'s first `maxEdges` edges named one of `names` points, or -1:
   * V8's internal edges (`shared`, `script`, `backing_store`) come first on their node.
   * @example g.edgeNamed(closure, 16, 'shared')
   */
  edgeNamed(node: number, maxEdges: number, ...names: string[]): number {
    const chars = Math.max(...names.map((n) => n.length)) + 1;
    for (let e = this.firstEdge[node]!, end = Math.min(this.firstEdge[node + 1]!, e + maxEdges); e < end; e++)
      if (!this.isIndexEdge(e) && names.includes(this.strings.prefix(this.edgeNameOrIndex[e]!, chars)))
        return this.edgeTo[e]!;
    return -1;
  }
}
