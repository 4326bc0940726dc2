import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { LsError } from '../../common/errors.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { parseSnapshotFile, parseSnapshotStream, type RawSnapshot } from '../../analyzer/heap/snapshot-parser.js';
import { parseSnapshotParallel } from '../../analyzer/heap/parallel-parse.js';
import { classify } from '../../analyzer/heap/class-names.js';
import { pieces, readJson, runProgram, snapshotJson, withTempDir, type RawJson } from './fixtures.js';

/** Field-by-field comparison of the parsed columns with JSON.parse of the same file. */
function assertSameAsJson(raw: RawSnapshot, j: RawJson): void {
  const m = j.snapshot.meta;
  const nf = m.node_fields.length;
  const ef = m.edge_fields.length;
  assert.equal(raw.nodes.count, j.nodes.length / nf);
  assert.equal(raw.edges.count, j.edges.length / ef);
  assert.equal(raw.strings.count, j.strings.length);
  for (let i = 0; i < j.strings.length; i++)
    if (raw.strings.get(i) !== j.strings[i])
      assert.fail(`string ${i}: ${JSON.stringify(raw.strings.get(i))} != ${JSON.stringify(j.strings[i])}`);
  const cols: [string, ArrayLike<number>][] = [
    ['type', raw.nodes.type],
    ['name', raw.nodes.name],
    ['id', raw.nodes.id],
    ['self_size', raw.nodes.selfSize],
    ['edge_count', raw.nodes.edgeCount],
  ];
  for (const [field, col] of cols) {
    const f = m.node_fields.indexOf(field);
    for (let i = 0; i < raw.nodes.count; i++)
      if (col[i] !== j.nodes[i * nf + f]) assert.fail(`node ${i} ${field}: ${col[i]} != ${j.nodes[i * nf + f]}`);
  }
  const ecols: [string, ArrayLike<number>, number][] = [
    ['type', raw.edges.type, 1],
    ['name_or_index', raw.edges.nameOrIndex, 1],
    ['to_node', raw.edges.toNode, nf],
  ];
  for (const [field, col, scale] of ecols) {
    const f = m.edge_fields.indexOf(field);
    for (let e = 0; e < raw.edges.count; e++)
      if (col[e]! * scale !== j.edges[e * ef + f]) assert.fail(`edge ${e} ${field}`);
  }
}

const TRICKY = `globalThis.keep = [
  'quote " backslash \\\\ slash / newline \\n tab \\t cr \\r',
  'accents héllo wörld, CJK 中文字, emoji 😀🎉',
  'lone high \\uD800 and low \\uDC00 surrogates',
  'control \\u0001\\u001f chars',
];
class TrickyHolder { constructor() { this['prop "with" quotes'] = 1; this['ünïcödé'] = 2; } }
globalThis.holder = new TrickyHolder();
snap('s');`;

test('parses a real V8 snapshot identically to JSON.parse, at any chunk size', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, TRICKY);
    const file = join(dir, 's.heapsnapshot');
    const j = await readJson(file);
    // V8 writes non-ASCII as \u escapes (and mangles astral characters itself); the
    // hand-made snapshot below covers raw UTF-8, escaped pairs and lone surrogates.
    for (const s of ['héllo wörld', '中文字', 'backslash \\ slash'])
      assert.ok(
        j.strings.some((x) => x.includes(s)),
        `fixture should hold ${JSON.stringify(s)}`,
      );
    // Tiny pieces through the stream entry (file reads that small would only test I/O).
    const tiny = await parseSnapshotStream(pieces(await readFile(file), 7), file);
    const parallel = await parseSnapshotParallel(file, { workers: true });
    for (const raw of [
      tiny,
      await parseSnapshotFile(file, { chunkSize: 1021 }),
      await parseSnapshotFile(file),
      parallel,
    ]) {
      assertSameAsJson(raw, j);
      assert.equal(raw.locations.length, (j as unknown as { locations: number[] }).locations.length);
    }
    // Nodes only (what leak detection reads from baseline and target): same nodes, nothing else kept.
    const ids = await parseSnapshotFile(file, { nodesOnly: true });
    assert.equal(ids.nodes.count, tiny.nodes.count);
    assert.deepEqual(ids.nodes.id.subarray(0, ids.nodes.count), tiny.nodes.id.subarray(0, tiny.nodes.count));
    assert.equal(ids.edges.count, 0);
    assert.equal(ids.strings.count, 0);
  });
});

test('a file parse leaves the strings in the file: each reads whole or by prefix, also after its folder is gone', async () => {
  let raw: RawSnapshot | undefined;
  let j: RawJson | undefined;
  await withTempDir(async (dir) => {
    await runProgram(dir, TRICKY);
    const file = join(dir, 's.heapsnapshot');
    const json = await readJson(file);
    j = json;
    raw = await parseSnapshotFile(file);
    // The same prefixes as the strings kept in memory (a stream's), at every cut: at least
    // the characters asked for, when there are that many (the memory table's numeric
    // strings, kept as numbers, come back whole).
    const kept = await parseSnapshotStream(pieces(await readFile(file), 4096), file);
    for (let i = 0; i < json.strings.length; i++) {
      const whole: string = json.strings[i]!;
      for (const n of [0, 1, 3, 17, 60]) {
        const p: string = raw.strings.prefix(i, n);
        assert.ok(whole.startsWith(p) && p.length >= Math.min(n, whole.length), `string ${i}, ${n} characters: ${p}`);
        if (!/^\d+$/.test(whole)) assert.equal(p, kept.strings.prefix(i, n), `string ${i}, ${n} characters`);
      }
    }
    // A file cut short after its parse: the strings it lost cannot be read, and say so.
    const cut = join(dir, 'cut.heapsnapshot');
    const bytes = await readFile(file);
    await writeFile(cut, bytes);
    const c = await parseSnapshotFile(cut);
    await truncate(cut, bytes.indexOf('"strings":['));
    assert.throws(
      () => c.strings.get(c.strings.count - 1),
      (e: unknown) =>
        e instanceof LsError &&
        e.code === 'LS_ERR_BAD_SNAPSHOT' &&
        /cut\.heapsnapshot: the file changed after it was parsed: string \d+ at byte \d+/.test(e.message),
    );
  });
  // The folder is gone: the table still reads through the file it opened.
  for (let i = 0; i < j!.strings.length; i++) assert.equal(raw!.strings.get(i), j!.strings[i]);
});

test('takes the layout from meta: permuted and unknown node fields, no optional sections', async () => {
  const nodes = [
    {
      type: 'synthetic',
      name: '',
      size: 0,
      edges: [
        { type: 'element', name: 1, to: 1 },
        { type: 'shortcut', name: 'g', to: 2 },
      ],
    },
    { type: 'synthetic', name: '(GC roots)', size: 0, edges: [{ type: 'element', name: 1, to: 2 }] },
    // Over 4 GB: a huge backing store must not wrap around 32 bits.
    {
      type: 'object',
      name: 'Thing "q" \u00e9 😀',
      size: 6_000_000_000,
      edges: [{ type: 'property', name: 'p\\q', to: 3 }],
    },
    { type: 'string', name: 'value', size: 24, edges: [] },
  ];
  const json = snapshotJson(
    nodes,
    ['edge_count', 'future_field', 'self_size', 'id', 'name', 'type'],
    ['pair:😀', 'lone:\uD800!', '0', '007', '123456789', '1234567890', '-5', '4294967295'],
  ).replace('pair:😀', 'pair:\\ud83d\\ude00');
  assert.ok(json.includes('pair:\\ud83d\\ude00') && json.includes('lone:\\ud800!'));
  for (const size of [1, 3, 64]) {
    const raw = await parseSnapshotStream(pieces(Buffer.from(json), size), 'hand.heapsnapshot');
    const g = new HeapGraph(raw);
    assert.equal(g.nodeCount, 4);
    assert.equal(g.edgeCount, 4);
    assert.equal(g.typeName(2), 'object');
    assert.equal(g.name(2), 'Thing "q" \u00e9 😀');
    assert.equal(g.selfSize[2], 6_000_000_000);
    assert.equal(g.totalSize(), 6_000_000_024);
    assert.equal(g.nodeId[3], 7);
    assert.equal(g.edgeName(g.firstEdge[2]!), 'p\\q');
    assert.equal(g.edgeTo[g.firstEdge[2]!], 3);
    assert.equal(raw.nodes.traceNodeId, null);
    assert.equal(raw.locations.length, 0);
    assert.deepEqual(classify(g).names.slice().sort(), ['(string)', '(synthetic)', 'Thing "q" \u00e9 😀'].sort());
    const all = Array.from({ length: raw.strings.count }, (_, k) => raw.strings.get(k));
    assert.ok(all.includes('pair:😀'), 'escaped surrogate pair joins up');
    assert.ok(all.includes('lone:\uD800!'), 'lone surrogate survives');
    // Numeric names are stored without bytes; all must read back exactly.
    for (const num of ['0', '007', '123456789', '1234567890', '-5', '4294967295']) assert.ok(all.includes(num), num);
  }
});

test('parses snapshots with allocation traces and samples (--track-heap-objects)', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, `globalThis.a = []; for (let i = 0; i < 2000; i++) a.push({ i }); snap('t');`, [
      '--track-heap-objects',
    ]);
    const file = join(dir, 't.heapsnapshot');
    const j = (await readJson(file)) as RawJson & { trace_function_infos: number[]; trace_tree: unknown[] };
    assert.ok(j.trace_function_infos.length > 0, 'fixture should carry trace function infos');
    assert.ok(j.trace_tree.length > 0, 'fixture should carry a trace tree');
    const raw = await parseSnapshotFile(file, { chunkSize: 4093 });
    assertSameAsJson(raw, j);
    assert.ok(raw.nodes.traceNodeId, 'trace node ids are kept when present');
  });
});

test("parses a worker isolate's getHeapSnapshot() stream", async () => {
  const worker = new Worker(
    `class WorkerMarker { constructor() { this.payload = 'w'.repeat(64); } }
    globalThis.markers = Array.from({ length: 321 }, () => new WorkerMarker());
    require('worker_threads').parentPort.postMessage('ready');
    setInterval(() => {}, 1000); // stay alive: Node 20 segfaults snapshotting a worker that is exiting`,
    { eval: true },
  );
  try {
    await new Promise((resolve) => worker.once('message', resolve));
    const stream = await worker.getHeapSnapshot();
    const raw = await parseSnapshotStream(stream, 'worker');
    const g = new HeapGraph(raw);
    const c = classify(g);
    const k = c.names.indexOf('WorkerMarker');
    assert.ok(k >= 0);
    let count = 0;
    for (let i = 0; i < g.nodeCount; i++) if (c.classOf[i] === k) count++;
    assert.equal(count, 321);
  } finally {
    await worker.terminate();
  }
});

/** Both the one-thread parse and the parse on worker threads reject `file` alike. */
async function rejectsBad(file: string, pattern: RegExp): Promise<void> {
  for (const parse of [
    () => parseSnapshotFile(file, { chunkSize: 333 }),
    () => parseSnapshotParallel(file, { workers: true }),
  ])
    await assert.rejects(
      async () => new HeapGraph(await parse()),
      (e: unknown) => {
        assert.ok(e instanceof LsError, `expected LsError, got ${String(e)}`);
        assert.equal(e.code, 'LS_ERR_BAD_SNAPSHOT');
        assert.equal(e.exitCode, 2);
        assert.ok(e.message.includes(file), `message names the file: ${e.message}`);
        assert.match(e.message, pattern);
        return true;
      },
    );
}

test('rejects truncated, corrupt and non-snapshot files with LS_ERR_BAD_SNAPSHOT naming the file', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, `snap('ok');`);
    const good = await readFile(join(dir, 'ok.heapsnapshot'));
    const text = good.toString('utf8');
    const f = (name: string): string => join(dir, name);
    // Truncations: in the header, in nodes, in edges, inside the strings, just before the last brace.
    const cuts = [
      40,
      text.indexOf('"nodes"') + 100,
      text.indexOf('"edges"') + 1000,
      text.indexOf('"strings"') + 500,
      text.lastIndexOf('}'),
    ];
    for (const [k, cut] of cuts.entries()) {
      await writeFile(f(`cut${k}`), good.subarray(0, cut));
      await rejectsBad(f(`cut${k}`), /truncated|unexpected end|expected/);
      await assert.rejects(parseSnapshotFile(f(`cut${k}`), { nodesOnly: true }), /truncated|unexpected end|expected/);
    }
    await writeFile(f('letter'), text.replace('"nodes":[9,', '"nodes":[9x,'));
    await rejectsBad(f('letter'), /expected an integer/);
    await writeFile(f('control'), text.replace('"strings":["', '"strings":["\u0000'));
    await rejectsBad(f('control'), /raw control character inside a string/);
    await writeFile(f('garbage'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
    await rejectsBad(f('garbage'), /expected "\{"/);
    await writeFile(f('other.json'), JSON.stringify({ name: 'x', version: '1.0.0' }));
    await rejectsBad(f('other.json'), /not a V8 heap snapshot/);
    await writeFile(f('empty'), '');
    await rejectsBad(f('empty'), /empty/);
    await rejectsBad(f('missing'), /cannot read/);
    const nodes = [
      { type: 'synthetic', name: '', size: 0, edges: [{ type: 'element', name: 1, to: 1 }] },
      { type: 'object', name: 'A', size: 8, edges: [] },
    ];
    await writeFile(f('dangling'), snapshotJson(nodes).replace('"edges":[1,1,7]', '"edges":[1,1,70]'));
    await rejectsBad(f('dangling'), /points to node 10/);
    await writeFile(f('edgetype'), snapshotJson(nodes).replace('"edges":[1,1,7]', '"edges":[9,1,7]'));
    await rejectsBad(f('edgetype'), /at byte \d+: edge type 9 is out of range/);
    await writeFile(f('offset'), snapshotJson(nodes).replace('"edges":[1,1,7]', '"edges":[1,1,8]'));
    await rejectsBad(f('offset'), /at byte \d+: edge to_node 8 is not a node offset/);
    await writeFile(f('count'), snapshotJson(nodes).replace('"edges":[1,1,7]', '"edges":[1,1,7,1,2,7]'));
    await rejectsBad(f('count'), /declare 1 edges but "edges" holds 2/);
    await writeFile(f('meta'), snapshotJson(nodes).replace('"edge_fields"', '"edge_fieldz"'));
    await rejectsBad(f('meta'), /meta.edge_fields/);
  });
});

test('a parse worker that fails ends the parse with a clear error naming it, not a hang', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, `globalThis.keep = Array.from({ length: 20000 }, (_, i) => ({ i })); snap('w');`);
    const file = join(dir, 'w.heapsnapshot');
    // A heap too small for the worker's own start-up: it dies of "out of memory".
    await assert.rejects(
      parseSnapshotParallel(file, {
        workers: true,
        workerResourceLimits: { maxOldGenerationSizeMb: 2, maxYoungGenerationSizeMb: 1 },
      }),
      (e: unknown) => {
        assert.ok(e instanceof LsError, `expected LsError, got ${String(e)}`);
        assert.equal(e.code, 'LS_ERR_INTERNAL');
        assert.equal(e.exitCode, 2);
        assert.match(e.message, /heap parse worker for "(nodes|edges)" (failed|stopped)/);
        assert.ok(e.message.includes(file), e.message);
        return true;
      },
    );
    // The same file parses with room to work: the failure was the worker's, not the file's.
    const raw = await parseSnapshotParallel(file, { workers: true });
    assert.ok(raw.nodes.count > 20000);
  });
});

test('a parse worker that throws or dies mid-parse ends the parse with an error naming it, not a hang', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, `globalThis.keep = Array.from({ length: 20000 }, (_, i) => ({ i })); snap('w');`);
    const file = join(dir, 'w.heapsnapshot');
    for (const part of ['nodes', 'edges'] as const)
      for (const how of ['throw', 'exit'] as const)
        await assert.rejects(
          // Small reads, so that the worker fails after its first and before its last.
          parseSnapshotParallel(file, { workers: true, chunkSize: 4096, failWorker: { part, how } }),
          (e: unknown) => {
            assert.ok(e instanceof LsError, `expected LsError, got ${String(e)}`);
            assert.equal(e.code, 'LS_ERR_INTERNAL');
            assert.equal(e.exitCode, 2);
            assert.ok(e.message.startsWith(`${file}: the heap parse worker for "${part}" `), e.message);
            assert.match(
              e.message,
              how === 'throw' ? /failed: failure injected by a test/ : /stopped \(exit code 3\) before finishing/,
            );
            return true;
          },
        );
  });
});
