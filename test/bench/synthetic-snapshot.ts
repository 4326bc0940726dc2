/**
 * Writes a synthetic but valid V8 heap snapshot of a process holding an executor cache:
 * global.session (SessionCache) → executors (Map) → table → N × (key string, ExecutorEntry).
 * Used by the heap benchmark to make snapshots over 2 GB, which V8 itself could only write
 * with many times that much memory. The header (meta) is copied from a real V8 snapshot
 * and every record is written in its field order, so the file has V8's exact layout.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export interface CacheShape {
  readonly entries: number;
  /** Self size of one ExecutorEntry, as measured in a real snapshot. */
  readonly entrySelf: number;
  /** Self size of the Map's backing table for `entries` entries. */
  readonly tableSelf: number;
  readonly mapSelf: number;
}

const FEATURES = ['user_age', 'item_id', 'country', 'device', 'hour', 'ad_slot'];

/** The cache key the benchmark's real program makes for entry i (same text, same length). */
export function cacheKey(i: number): string {
  const r = i % FEATURES.length;
  return `${FEATURES.slice(r).concat(FEATURES.slice(0, r)).join(',')},f${i}->prob//0/`;
}

/** Source of the program that builds the same cache for real and writes a V8 snapshot. */
export function cacheProgram(entries: number, file: string): string {
  return `const FEATURES = ${JSON.stringify(FEATURES)};
function cacheKey(i) { const r = i % FEATURES.length; return [FEATURES.slice(r).concat(FEATURES.slice(0, r)).join(','), ',f', i, '->prob//0/'].join(''); }
class ExecutorEntry { constructor(key, i) { this.key = key; this.model = 'ctr'; this.hits = i & 7; } }
class SessionCache { constructor() { this.executors = new Map(); } }
globalThis.session = new SessionCache();
for (let i = 0; i < ${entries}; i++) { const k = cacheKey(i); session.executors.set(k, new ExecutorEntry(k, i)); }
setImmediate(() => require('v8').writeHeapSnapshot(${JSON.stringify(file)}));`;
}

/** V8's size of a sequential one-byte string (16-byte header, 8-byte aligned). */
const stringSize = (len: number): number => Math.ceil((16 + len) / 8) * 8;

/**
 * Streams the snapshot to `file`; returns its size in bytes. `header` is the `snapshot`
 * object of a real V8 snapshot (for meta).
 */
export async function writeCacheSnapshot(
  file: string,
  header: Record<string, unknown>,
  shape: CacheShape,
): Promise<number> {
  const meta = header['meta'] as {
    node_fields: string[];
    node_types: string[][];
    edge_fields: string[];
    edge_types: string[][];
  };
  const nodeTypes = meta.node_types[meta.node_fields.indexOf('type')]!;
  const edgeTypes = meta.edge_types[meta.edge_fields.indexOf('type')]!;
  const nt = (t: string): number => nodeTypes.indexOf(t);
  const et = (t: string): number => edgeTypes.indexOf(t);
  const nf = meta.node_fields.length;
  const n = shape.entries;
  const out = createWriteStream(file);
  let buffered: string[] = [];
  let size = 0;
  let bytes = 0;
  // put() only buffers; loops call spill() every few thousand records (an await per
  // record would cost more than the formatting).
  const put = (s: string): void => {
    buffered.push(s);
    size += s.length;
  };
  const spill = async (): Promise<void> => {
    if (size > 1 << 20) await flush();
  };
  const flush = async (): Promise<void> => {
    const chunk = buffered.join('');
    buffered = [];
    size = 0;
    bytes += Buffer.byteLength(chunk);
    if (!out.write(chunk)) await once(out, 'drain');
  };

  // Strings: fixed ones first, then per entry: key text, key slot name, value slot name.
  const fixed = [
    '',
    '(GC roots)',
    'global',
    'session',
    'SessionCache',
    'executors',
    'Map',
    'table',
    'system / Map',
    'ctr',
    'ExecutorEntry',
    'key',
    'model',
    'map',
  ];
  const S = (s: string): number => fixed.indexOf(s);
  const F = fixed.length;
  const keyString = (i: number): number => F + 3 * i;
  const slotString = (i: number, k: 1 | 2): number => F + 3 * i + k;

  // Nodes: 0 root, 1 (GC roots), 2 global, 3 SessionCache, 4 Map, 5 table, 6 entry shape,
  // 7 "ctr", then per entry: 8 + 2i key string, 9 + 2i ExecutorEntry.
  const BASE = 8;
  // Unknown fields (trace_node_id, detachedness, future ones) stay 0.
  const nodeVals = new Array<number>(nf).fill(0);
  const [iType, iName, iId, iSelf, iEdges] = ['type', 'name', 'id', 'self_size', 'edge_count'].map((f) =>
    meta.node_fields.indexOf(f),
  ) as [number, number, number, number, number];
  const nodeValues = (type: number, name: number, index: number, self: number, edges: number): string => {
    nodeVals[iType] = type;
    nodeVals[iName] = name;
    nodeVals[iId] = 2 * index + 1; // V8 gives heap objects odd ids
    nodeVals[iSelf] = self;
    nodeVals[iEdges] = edges;
    return nodeVals.join(',');
  };
  const fixedNodes: [number, number, number, number][] = [
    [nt('synthetic'), S(''), 0, 2],
    [nt('synthetic'), S('(GC roots)'), 0, 0],
    [nt('object'), S('global'), 64, 1],
    [nt('object'), S('SessionCache'), 32, 1],
    [nt('object'), S('Map'), shape.mapSelf, 1],
    [nt('array'), S(''), shape.tableSelf, 2 * n],
    [nt('object shape'), S('system / Map'), 80, 0],
    [nt('string'), S('ctr'), stringSize(3), 0],
  ];
  const edgeCount = 2 + 1 + 1 + 1 + 2 * n + 3 * n;
  put(
    `{"snapshot":${JSON.stringify({ ...header, node_count: BASE + 2 * n, edge_count: edgeCount, trace_function_count: 0 })},\n"nodes":[`,
  );
  for (const [k, v] of fixedNodes.entries()) put(`${k ? '\n,' : ''}${nodeValues(v[0], v[1], k, v[2], v[3])}`);
  for (let i = 0; i < n; i++) {
    put(
      `\n,${nodeValues(nt('string'), keyString(i), BASE + 2 * i, stringSize(cacheKey(i).length), 0)}\n,${nodeValues(nt('object'), S('ExecutorEntry'), BASE + 2 * i + 1, shape.entrySelf, 3)}`,
    );
    if ((i & 4095) === 0) await spill();
  }
  // Edges, in node order. to_node is a field offset: node index × node field count.
  const edgeVals = new Array<number>(meta.edge_fields.length).fill(0);
  const [jType, jName, jTo] = ['type', 'name_or_index', 'to_node'].map((f) => meta.edge_fields.indexOf(f)) as [
    number,
    number,
    number,
  ];
  const edge = (type: string, nameOrIndex: number, to: number): string => {
    edgeVals[jType] = et(type);
    edgeVals[jName] = nameOrIndex;
    edgeVals[jTo] = to * nf;
    return edgeVals.join(',');
  };
  put(
    `],\n"edges":[${edge('element', 1, 1)}\n,${edge('shortcut', S('global'), 2)}\n,${edge('property', S('session'), 3)}\n,${edge('property', S('executors'), 4)}\n,${edge('internal', S('table'), 5)}`,
  );
  for (let i = 0; i < n; i++) {
    put(
      `\n,${edge('internal', slotString(i, 1), BASE + 2 * i)}\n,${edge('internal', slotString(i, 2), BASE + 2 * i + 1)}`,
    );
    if ((i & 4095) === 0) await spill();
  }
  for (let i = 0; i < n; i++) {
    put(
      `\n,${edge('property', S('key'), BASE + 2 * i)}\n,${edge('property', S('model'), 7)}\n,${edge('internal', S('map'), 6)}`,
    );
    if ((i & 4095) === 0) await spill();
  }
  put(
    `],\n"trace_function_infos":[],\n"trace_tree":[],\n"samples":[],\n"locations":[],\n"strings":[${fixed.map((s) => JSON.stringify(s)).join(',')}`,
  );
  // OrderedHashMap slots: 3 + buckets + 3 per entry; names as V8 writes them, as strings.
  const buckets = Math.max(1, 2 ** Math.ceil(Math.log2(Math.max(1, n) / 2)));
  for (let i = 0; i < n; i++) {
    put(`\n,${JSON.stringify(cacheKey(i))},"${3 + buckets + 3 * i}","${4 + buckets + 3 * i}"`);
    if ((i & 4095) === 0) await spill();
  }
  put(']}\n');
  await flush();
  out.end();
  await once(out, 'close');
  return bytes;
}
