/**
 * Field layout of a V8 heap snapshot, read from its `snapshot.meta` header. Offsets are
 * never hard-coded: V8 has added fields over the years (trace_node_id, detachedness) and
 * other writers (DevTools, worker isolates) may order or omit optional ones.
 */
import { LsError } from '../../common/errors.js';

/** Which typed column a node or edge field is stored in. */
export const NodeColumn = {
  Type: 0,
  Name: 1,
  Id: 2,
  SelfSize: 3,
  EdgeCount: 4,
  TraceNodeId: 5,
  Detachedness: 6,
  Ignored: 7,
} as const;
export const EdgeColumn = { Type: 0, NameOrIndex: 1, ToNode: 2, Ignored: 3 } as const;

export interface SnapshotLayout {
  readonly nodeFieldCount: number;
  readonly edgeFieldCount: number;
  /** NodeColumn per node field, in file order. */
  readonly nodeColumns: Uint8Array;
  /** EdgeColumn per edge field, in file order. */
  readonly edgeColumns: Uint8Array;
  readonly nodeTypes: readonly string[];
  readonly edgeTypes: readonly string[];
  /** Counts declared in the header; -1 when the writer left them out. */
  readonly declaredNodeCount: number;
  readonly declaredEdgeCount: number;
  readonly hasTraceNodeId: boolean;
  readonly hasDetachedness: boolean;
  readonly locationFieldCount: number;
  /** The header as written, for tools that want more of it. */
  readonly header: Record<string, unknown>;
}

const NODE_COLUMN_BY_FIELD: Record<string, number> = {
  type: NodeColumn.Type,
  name: NodeColumn.Name,
  id: NodeColumn.Id,
  self_size: NodeColumn.SelfSize,
  edge_count: NodeColumn.EdgeCount,
  trace_node_id: NodeColumn.TraceNodeId,
  detachedness: NodeColumn.Detachedness,
};
const EDGE_COLUMN_BY_FIELD: Record<string, number> = {
  type: EdgeColumn.Type,
  name_or_index: EdgeColumn.NameOrIndex,
  to_node: EdgeColumn.ToNode,
};

function stringList(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? (v as string[]) : undefined;
}

/** Builds the layout from the parsed `snapshot` header object; throws LS_ERR_BAD_SNAPSHOT naming `file`. */
export function layoutFromHeader(header: unknown, file: string): SnapshotLayout {
  const bad = (what: string): LsError =>
    new LsError('LS_ERR_BAD_SNAPSHOT', `${file}: not a V8 heap snapshot: expected ${what} in the "snapshot" header`);
  if (typeof header !== 'object' || header === null) throw bad('an object');
  const h = header as Record<string, unknown>;
  const meta = h['meta'] as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null) throw bad('"meta"');
  const nodeFields = stringList(meta['node_fields']);
  const edgeFields = stringList(meta['edge_fields']);
  if (!nodeFields || nodeFields.length === 0) throw bad('meta.node_fields (a list of names)');
  if (!edgeFields || edgeFields.length === 0) throw bad('meta.edge_fields (a list of names)');
  const nodeTypesField = meta['node_types'] as unknown[] | undefined;
  const edgeTypesField = meta['edge_types'] as unknown[] | undefined;
  const typeIdx = nodeFields.indexOf('type');
  const edgeTypeIdx = edgeFields.indexOf('type');
  // The first entry of *_types at the position of the "type" field is the list of type names.
  const nodeTypes = Array.isArray(nodeTypesField) ? stringList(nodeTypesField[typeIdx]) : undefined;
  const edgeTypes = Array.isArray(edgeTypesField) ? stringList(edgeTypesField[edgeTypeIdx]) : undefined;
  if (!nodeTypes) throw bad('meta.node_types with the list of node type names');
  if (!edgeTypes) throw bad('meta.edge_types with the list of edge type names');
  const nodeColumns = Uint8Array.from(nodeFields, (f) => NODE_COLUMN_BY_FIELD[f] ?? NodeColumn.Ignored);
  const edgeColumns = Uint8Array.from(edgeFields, (f) => EDGE_COLUMN_BY_FIELD[f] ?? EdgeColumn.Ignored);
  for (const f of ['type', 'name', 'id', 'self_size', 'edge_count']) {
    if (!nodeFields.includes(f)) throw bad(`meta.node_fields to contain "${f}"`);
  }
  for (const f of ['type', 'name_or_index', 'to_node']) {
    if (!edgeFields.includes(f)) throw bad(`meta.edge_fields to contain "${f}"`);
  }
  const count = (k: string): number =>
    typeof h[k] === 'number' && Number.isInteger(h[k]) && (h[k] as number) >= 0 ? (h[k] as number) : -1;
  return {
    nodeFieldCount: nodeFields.length,
    edgeFieldCount: edgeFields.length,
    nodeColumns,
    edgeColumns,
    nodeTypes,
    edgeTypes,
    declaredNodeCount: count('node_count'),
    declaredEdgeCount: count('edge_count'),
    hasTraceNodeId: nodeFields.includes('trace_node_id'),
    hasDetachedness: nodeFields.includes('detachedness'),
    locationFieldCount: stringList(meta['location_fields'])?.length ?? 4,
    header: h,
  };
}
