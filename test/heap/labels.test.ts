import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classify } from '../../analyzer/heap/class-names.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { findLeaks } from '../../analyzer/heap/leaks.js';
import { computeShortestPaths, nodeLabel, pathSteps, pathTo, renderPath } from '../../analyzer/heap/paths.js';
import { parseSnapshotFile } from '../../analyzer/heap/snapshot-parser.js';
import { V8_EDGE_TYPES, V8_NODE_TYPES, withTempDir } from './fixtures.js';

const DEPTH = 100_000;
const FIELDS = ['type', 'name', 'id', 'self_size', 'edge_count', 'trace_node_id', 'detachedness'];

/**
 * Snapshot JSON built with arrays (the fixtures' snapshotJson looks strings up linearly,
 * too slow for 200,000 nodes). `global.holder.text` is a chain of DEPTH parts:
 * - 'left': text = text + part, DEPTH times (concatenated strings, left-deep);
 * - 'right': part + (part + (...)) (right-deep);
 * - 'objects': the control, a linked list of objects with the same node and edge counts.
 * Every other part is a sliced string of one flat parent. With `holderOnly`, just the root
 * and the holder (the baseline).
 */
function chainSnapshot(kind: 'left' | 'right' | 'objects', holderOnly = false): string {
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
  const D = holderOnly ? 0 : DEPTH;
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

async function timedLeaks(dir: string, kind: 'left' | 'right' | 'objects') {
  const base = join(dir, `${kind}-base.heapsnapshot`);
  const final = join(dir, `${kind}-final.heapsnapshot`);
  await writeFile(base, chainSnapshot(kind, true));
  await writeFile(final, chainSnapshot(kind));
  const t0 = performance.now();
  const report = await findLeaks(base, final, final, { top: 10 });
  return { ms: performance.now() - t0, report };
}

test('heap leaks on a 100,000-deep concatenated/sliced string chain costs about what a same-size object chain does', async (t) => {
  await withTempDir(async (dir) => {
    await timedLeaks(dir, 'objects'); // warm-up: the first run also compiles the parser
    const control = await timedLeaks(dir, 'objects');
    const left = await timedLeaks(dir, 'left');
    const right = await timedLeaks(dir, 'right');
    t.diagnostic(
      `object chain ${control.ms.toFixed(0)} ms, left ${left.ms.toFixed(0)} ms, right ${right.ms.toFixed(0)} ms`,
    );
    for (const [kind, r] of [
      ['left', left],
      ['right', right],
    ] as const) {
      const chain = r.report.groups.find((g) => g.className === '(concatenated string)');
      assert.equal(chain?.count, DEPTH, `${kind}: every part of the chain is a candidate`);
      assert.match(chain.heldBy, /\.holder\.text$/);
      // Paths down the chain keep their ends only, and render as the whole path would.
      for (const g of r.report.groups) {
        assert.ok(g.steps.length <= 34, `${kind}: ${g.steps.length} steps kept`);
        assert.ok(g.path.split(' → ').length <= 12, g.path);
      }
      // Generous: both are dominated by parsing the same number of nodes and edges.
      assert.ok(
        r.ms < 5 * control.ms,
        `${kind} chain ${r.ms.toFixed(0)} ms vs object chain ${control.ms.toFixed(0)} ms`,
      );
    }
    const objects = control.report.groups.find((g) => g.className === 'Link');
    assert.equal(objects?.count, DEPTH);
  });
});

test('labels of chained strings read their first characters only, in order, through sliced parts', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'right.heapsnapshot');
    await writeFile(file, chainSnapshot('right'));
    const g = new HeapGraph(await parseSnapshotFile(file));
    const c = classify(g);
    const top = g.edgeTo[g.firstEdge[1]!]!;
    // part0, then the sliced part's parent (V8 does not write the offset), then part2, ...
    const expected = `part0,${'x'.repeat(100)}`.slice(0, 60);
    assert.equal(nodeLabel(g, c, top), JSON.stringify(`${expected}…`));
    // Deep inside the chain: the label of a part 99,990 levels down.
    const deep = top + 2 * 99_990;
    assert.match(nodeLabel(g, c, deep), /^"part99990,x{50}…"$/);
    // The path to the last part: 100,002 nodes, 34 steps kept, rendered in 12 parts.
    const p = computeShortestPaths(g);
    const nodes = pathTo(p, g.nodeCount - 1);
    assert.equal(nodes.length, DEPTH + 2); // holder, the chain, its last part
    const steps = pathSteps(g, c, p, nodes);
    assert.equal(steps.length, 34);
    assert.equal(steps[2]!.skipped, nodes.length - 34);
    const parts = renderPath(steps).split(' → ');
    assert.equal(parts.length, 12);
    assert.equal(parts[2], '…');
    assert.equal(parts[0], 'Holder');
  });
});
