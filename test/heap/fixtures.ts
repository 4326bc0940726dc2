/**
 * Helpers for the heap tests: temporary folders, small programs that write real V8
 * snapshots, hand-built snapshot JSON, and an independent reading of a snapshot with
 * JSON.parse (fine for the few-MB files the tests make) to check the analyzer against.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export async function withTempDir<T>(fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'leakscope-heap-'));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a CommonJS program in a child node. `snap(name)` inside it writes
 * <dir>/<name>.heapsnapshot; `dir` is the folder.
 */
export async function runProgram(dir: string, source: string, nodeArgs: readonly string[] = []): Promise<void> {
  const file = join(dir, 'program.cjs');
  const prelude = `const v8 = require('v8'); const path = require('path'); const dir = ${JSON.stringify(dir)};\nconst snap = (name) => v8.writeHeapSnapshot(path.join(dir, name + '.heapsnapshot'));\n`;
  await writeFile(file, prelude + source);
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, file], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += String(d)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`program exited ${code}: ${err}`))));
  });
}

export interface RawJson {
  snapshot: {
    meta: {
      node_fields: string[];
      edge_fields: string[];
      node_types: [string[], ...unknown[]];
      edge_types: [string[], ...unknown[]];
    };
    node_count: number;
    edge_count: number;
  };
  nodes: number[];
  edges: number[];
  strings: string[];
}

export async function readJson(file: string): Promise<RawJson> {
  return JSON.parse(await readFile(file, 'utf8')) as RawJson;
}

/** Plain-object view of a snapshot read with JSON.parse; independent of the analyzer. */
export interface PlainGraph {
  n: number;
  type: string[];
  name: string[];
  id: number[];
  size: number[];
  /** Outgoing edges per node: [edgeType, nameOrIndex as string, target]. */
  out: [string, string, number][][];
}

export function plainGraph(j: RawJson): PlainGraph {
  const m = j.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  const f = (k: string): number => m.node_fields.indexOf(k);
  const g = (k: string): number => m.edge_fields.indexOf(k);
  const n = j.nodes.length / nf;
  const pg: PlainGraph = { n, type: [], name: [], id: [], size: [], out: [] };
  let e = 0;
  for (let i = 0; i < n; i++) {
    const b = i * nf;
    pg.type.push(m.node_types[0][j.nodes[b + f('type')]!]!);
    pg.name.push(j.strings[j.nodes[b + f('name')]!]!);
    pg.id.push(j.nodes[b + f('id')]!);
    pg.size.push(j.nodes[b + f('self_size')]!);
    const list: [string, string, number][] = [];
    for (let k = 0; k < j.nodes[b + f('edge_count')]!; k++, e += ef) {
      const t = m.edge_types[0][j.edges[e + g('type')]!]!;
      const ni = j.edges[e + g('name_or_index')]!;
      list.push([t, t === 'element' || t === 'hidden' ? String(ni) : j.strings[ni]!, j.edges[e + g('to_node')]! / nf]);
    }
    pg.out.push(list);
  }
  return pg;
}

/** The DevTools class rule, written again here so the test does not share code with the analyzer. */
export function plainClass(type: string, name: string): string {
  switch (type) {
    case 'object':
    case 'native':
      return name || '(anonymous)';
    case 'hidden':
      return '(system)';
    case 'code':
      return '(compiled code)';
    default:
      return `(${type})`;
  }
}

export const V8_NODE_TYPES = [
  'hidden',
  'array',
  'string',
  'object',
  'code',
  'closure',
  'regexp',
  'number',
  'native',
  'synthetic',
  'concatenated string',
  'sliced string',
  'symbol',
  'bigint',
  'object shape',
];
export const V8_EDGE_TYPES = ['context', 'element', 'property', 'internal', 'hidden', 'shortcut', 'weak'];

export interface SpecNode {
  type: string;
  name: string;
  size: number;
  /** Node id (default 2 × index + 1); the same object keeps its id across snapshots. */
  id?: number;
  edges: { type: string; name: string | number; to: number }[];
}

/**
 * Writes snapshot JSON for a hand-made graph, with node fields in the given order
 * (unknown field names get 0), so layout handling can be tested.
 */
export function snapshotJson(
  nodes: SpecNode[],
  nodeFields = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'],
  extraStrings: string[] = [],
): string {
  const strings: string[] = [''];
  const sid = (s: string): number => {
    let k = strings.indexOf(s);
    if (k < 0) k = strings.push(s) - 1;
    return k;
  };
  const nf = nodeFields.length;
  const flatNodes: number[] = [];
  const flatEdges: number[] = [];
  nodes.forEach((nd, i) => {
    for (const f of nodeFields) {
      const v: Record<string, number> = {
        type: V8_NODE_TYPES.indexOf(nd.type),
        name: sid(nd.name),
        id: nd.id ?? 2 * i + 1,
        self_size: nd.size,
        edge_count: nd.edges.length,
      };
      flatNodes.push(v[f] ?? 0);
    }
    for (const e of nd.edges) {
      const numeric = e.type === 'element' || e.type === 'hidden';
      flatEdges.push(V8_EDGE_TYPES.indexOf(e.type), numeric ? Number(e.name) : sid(String(e.name)), e.to * nf);
    }
  });
  for (const s of extraStrings) sid(s);
  const meta = {
    node_fields: nodeFields,
    node_types: nodeFields.map((f) => (f === 'type' ? V8_NODE_TYPES : 'number')),
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [V8_EDGE_TYPES, 'string_or_number', 'node'],
  };
  return `{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":${nodes.length},"edge_count":${flatEdges.length / 3}},\n"nodes":[${flatNodes.join(',')}],\n"edges":[${flatEdges.join(',')}],\n"strings":${JSON.stringify(strings)}}`;
}

/** Async iterable of a Buffer in fixed-size pieces, to cross every token boundary. */
export async function* pieces(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}

/**
 * Programs that plant a known leak between snapshots s1 (baseline) and s2 (target) and
 * keep it until s3 (final), still growing between s2 and s3 (a leak must: see
 * leaks.ts). Sizes are small so each runs in well under a second.
 */
export const PLANTED = {
  /** Leak 1 of the design notes: executor cache keyed by request input order. */
  executorCache: {
    leaked: 2000,
    source: `class ExecutorEntry { constructor(k) { this.key = k; this.hits = 0; } }
class SessionCache { constructor() { this.executors = new Map(); } }
globalThis.session = { cache: new SessionCache() };
const feats = ['user_age', 'item_id', 'country', 'device'];
let n = 0;
function predict() {
  const order = feats.slice(n % 4).concat(feats.slice(0, n % 4));
  const key = [order.join(','), ',f', n++, '->prob//0/'].join(''); // one flat string, as a C++ key would be
  session.cache.executors.set(key, new ExecutorEntry(key));
}
// Snapshots are taken from fresh ticks so no handle of the last operation is on the stack.
const tick = () => new Promise((resolve) => setImmediate(resolve));
(async () => {
  for (let i = 0; i < 100; i++) predict();
  await tick(); snap('s1');
  for (let i = 0; i < 2000; i++) predict();
  for (let i = 0; i < 50; i++) session.cache.executors.delete(session.cache.executors.keys().next().value);
  await tick(); snap('s2');
  for (let i = 0; i < 100; i++) predict();
  await tick(); snap('s3');
})();`,
  },
  listeners: {
    leaked: 1500,
    source: `const { EventEmitter } = require('events');
class ModelRegistry extends EventEmitter {}
globalThis.registry = new ModelRegistry(); registry.setMaxListeners(0);
class RequestContext { constructor(i) { this.id = i; this.body = 'request body ' + i; } }
function handle(i) { const ctx = new RequestContext(i); registry.on('reload', function onModelReload() { return ctx.id; }); }
for (let i = 0; i < 50; i++) handle(i);
snap('s1'); for (let i = 50; i < 1550; i++) handle(i); snap('s2'); for (let i = 1550; i < 1600; i++) handle(i); snap('s3');`,
  },
  closures: {
    leaked: 1000,
    source: `class Router { constructor() { this.routes = []; } }
globalThis.router = new Router();
function makeHandler(i) { const scratch = new Array(64).fill(i); return function handleRoute() { return scratch.length; }; }
for (let i = 0; i < 50; i++) router.routes.push(makeHandler(i));
snap('s1'); for (let i = 50; i < 1050; i++) router.routes.push(makeHandler(i)); snap('s2');
for (let i = 1050; i < 1100; i++) router.routes.push(makeHandler(i)); snap('s3');`,
  },
  buffers: {
    leaked: 200,
    source: `class UploadSpool { constructor() { this.pending = []; } }
globalThis.spool = new UploadSpool();
for (let i = 0; i < 5; i++) spool.pending.push(Buffer.alloc(16384, i));
snap('s1'); for (let i = 0; i < 200; i++) spool.pending.push(Buffer.alloc(16384, i)); snap('s2');
for (let i = 0; i < 10; i++) spool.pending.push(Buffer.alloc(16384, i)); snap('s3');`,
  },
  /** Control: objects made between s1 and s2 are released before s3. */
  released: {
    leaked: 0,
    source: `class ExecutorEntry { constructor(k) { this.key = k; } }
globalThis.cache = new Map();
snap('s1'); for (let i = 0; i < 2000; i++) cache.set('k' + i, new ExecutorEntry('k' + i)); snap('s2');
cache.clear(); snap('s3');`,
  },
} as const;

/** Runs a planted program in `dir` and returns its three snapshot paths. */
export async function plant(dir: string, which: keyof typeof PLANTED): Promise<[string, string, string]> {
  await runProgram(dir, PLANTED[which].source);
  return ['s1', 's2', 's3'].map((s) => join(dir, `${s}.heapsnapshot`)) as [string, string, string];
}

/**
 * Snapshot JSON built with arrays (the fixtures' snapshotJson looks strings up linearly,
 * too slow for 200,000 nodes). `global.holder.text` is a chain of `depth` parts:
 * - 'left': text = text + part, `depth` times (concatenated strings, left-deep);
 * - 'right': part + (part + (...)) (right-deep);
 * - 'objects': the control, a linked list of objects with the same node and edge counts.
 * Every other part is a sliced string of one flat parent (so that parent has
 * `depth` / 2 predecessors deep in the chain). With `holderOnly`, just the root
 * and the holder (the baseline).
 */
export function chainSnapshot(kind: 'left' | 'right' | 'objects', depth: number, holderOnly = false): string {
  const FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];
  const strings: string[] = [];
  const sid = new Map<string, number>();
  const s = (x: string): number => {
    let k = sid.get(x);
    if (k === undefined) sid.set(x, (k = strings.push(x) - 1));
    return k;
  };
  s('');
  const nodes: number[] = [];
  const edges: number[] = [];
  const node = (type: string, name: string, size: number, out: [string, string | number, number][]): void => {
    nodes.push(V8_NODE_TYPES.indexOf(type), s(name), 2 * (nodes.length / FIELDS.length) + 1, size, out.length, 0, 0);
    for (const [t, n, to] of out) edges.push(V8_EDGE_TYPES.indexOf(t), typeof n === 'number' ? n : s(n), to * 7);
  };
  const D = holderOnly ? 0 : depth;
  const C = (k: number): number => 3 + 2 * k; // chain node k
  const L = (k: number): number => 4 + 2 * k; // its part
  const top = kind === 'right' ? C(0) : C(D - 1);
  node('synthetic', '', 0, [['shortcut', 'holder', 1]]);
  node('object', 'Holder', 32, D ? [['property', 'text', top]] : []);
  if (D) node('string', 'x'.repeat(100), 120, []);
  const cons = kind === 'objects' ? 'object' : 'concatenated string';
  const [firstName, secondName] = kind === 'objects' ? ['prev', 'value'] : ['first', 'second'];
  const edgeType = kind === 'objects' ? 'property' : 'internal';
  for (let k = 0; k < D; k++) {
    const name = kind === 'objects' ? 'Link' : '(concatenated string)';
    if (kind === 'right') {
      const rest = k + 1 < D ? C(k + 1) : L(k);
      node(cons, name, 32, [
        [edgeType, firstName, L(k)],
        [edgeType, secondName, rest],
      ]);
    } else {
      node(cons, name, 32, [
        [edgeType, firstName, k === 0 ? L(0) : C(k - 1)],
        [edgeType, secondName, L(k)],
      ]);
    }
    if (k % 2 === 0) node('string', `part${k},`, 24, []);
    else if (kind === 'objects') node('object', 'Slice', 24, [['property', 'parent', 2]]);
    else node('sliced string', '(sliced string)', 24, [['internal', 'parent', 2]]);
  }
  const meta = {
    node_fields: FIELDS,
    node_types: FIELDS.map((f) => (f === 'type' ? V8_NODE_TYPES : 'number')),
    edge_fields: ['type', 'name_or_index', 'to_node'],
    edge_types: [V8_EDGE_TYPES, 'string_or_number', 'node'],
  };
  const n = nodes.length / FIELDS.length;
  return `{"snapshot":{"meta":${JSON.stringify(meta)},"node_count":${n},"edge_count":${edges.length / 3}},\n"nodes":[${nodes.join(',')}],\n"edges":[${edges.join(',')}],\n"strings":${JSON.stringify(strings)}}`;
}
