import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classify } from '../../analyzer/heap/class-names.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { analyzeSnapshot, loadClassifiedHeap } from '../../analyzer/heap/heap-analysis.js';
import { findLeaksIn, targetStage } from '../../analyzer/heap/leaks.js';
import {
  computeShortestPaths,
  labelWork,
  nodeLabel,
  pathSteps,
  pathTo,
  renderPath,
} from '../../analyzer/heap/paths.js';
import { parseSnapshotFile } from '../../analyzer/heap/snapshot-parser.js';
import { loadStage } from '../../analyzer/heap/snapshot-stages.js';
import { chainSnapshot, runProgram, snapshotJson, withTempDir } from './fixtures.js';

const DEPTH = 100_000;

async function leaksOn(dir: string, kind: 'left' | 'right' | 'objects') {
  const base = join(dir, `${kind}-base.heapsnapshot`);
  const final = join(dir, `${kind}-final.heapsnapshot`);
  await writeFile(base, chainSnapshot(kind, DEPTH, true));
  await writeFile(final, chainSnapshot(kind, DEPTH));
  const a = await analyzeSnapshot(final);
  // The final is the target again: nothing grew in the last pair, so keep every group.
  const baseline = await loadStage(base);
  const target = targetStage(final, await loadClassifiedHeap(final), baseline.ids);
  const report = findLeaksIn([baseline, target], a, final, { top: 10, keepStopped: true });
  return { a, report, work: labelWork(a.graph) };
}

/** The node a holder's `text` property points to: the top of its chain. */
function holderText(g: HeapGraph, holder: number): number {
  for (let e = g.firstEdge[holder]!; e < g.firstEdge[holder + 1]!; e++)
    if (g.edgeName(e) === 'text') return g.edgeTo[e]!;
  throw new Error(`node ${holder} has no text property`);
}

test('heap leaks on a 100,000-deep concatenated/sliced string chain reads each part of it about once', async () => {
  await withTempDir(async (dir) => {
    const control = await leaksOn(dir, 'objects');
    assert.equal(control.report.groups.find((g) => g.className === 'Link')?.count, DEPTH);
    assert.ok(control.work <= 10, `an object chain has almost no string labels: ${control.work}`);
    for (const kind of ['left', 'right'] as const) {
      const r = await leaksOn(dir, kind);
      const chain = r.report.groups.find((g) => g.className === '(concatenated string)');
      assert.equal(chain?.count, DEPTH, `${kind}: every part of the chain is a candidate`);
      assert.match(chain.heldBy, /\.holder\.text$/);
      // Paths down the chain keep their ends only, and render as the whole path would.
      for (const g of r.report.groups) {
        assert.ok(g.steps.length <= 34, `${kind}: ${g.steps.length} steps kept`);
        assert.ok(g.path.split(' → ').length <= 12, g.path);
      }
      // The report's few dozen labels: a left-deep chain keeps its first characters at
      // the bottom, read once (one look at each link and at each part that ends up in a
      // label); a right-deep one has them at the top, a few parts per label.
      const bound = kind === 'left' ? DEPTH + 2_000 : 2_000;
      assert.ok(r.work <= bound, `${kind}: labels looked at ${r.work} string nodes (at most ${bound})`);
    }
  });
});

test('every label in a 100,000-deep chain, all of them, costs about one look at each part', async () => {
  await withTempDir(async (dir) => {
    for (const kind of ['left', 'right'] as const) {
      const file = join(dir, `${kind}.heapsnapshot`);
      await writeFile(file, chainSnapshot(kind, DEPTH));
      const g = new HeapGraph(await parseSnapshotFile(file));
      const c = classify(g);
      let labels = 0;
      for (let v = 0; v < g.nodeCount; v++) {
        if (g.nodeType[v] !== g.T.concatString) continue;
        assert.match(nodeLabel(g, c, v), /^"(part\d+,|x{60}…")/);
        labels++;
      }
      assert.equal(labels, DEPTH);
      // Without the memo a left-deep chain costs depth × labels (5 × 10⁹ looks here).
      assert.ok(labelWork(g) <= 3 * g.nodeCount, `${kind}: ${labelWork(g)} looks for ${g.nodeCount} nodes`);
    }
  });
});

/** A program that grows strings the ways real programs do, holding each from a global. */
const STRING_PROGRAM = `
const N = ${DEPTH};
let left = '';
for (let i = 0; i < N; i++) left += 'p' + i + ',';
let right = '';
for (let i = 0; i < N; i++) right = 'q' + i + ',' + right;
const big = 'abcdefghijklmnopqrstuvwxyz'.repeat(40);
let sliced = '';
for (let i = 0; i < N; i++) sliced += big.slice(i % 26, (i % 26) + 20) + i;
globalThis.left = { text: left };
globalThis.right = { text: right };
globalThis.sliced = { text: sliced };
snap('strings');
`;

test('labels of strings a real process grew 100,000 times read their first characters, each part about once', async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, STRING_PROGRAM);
    const g = new HeapGraph(await parseSnapshotFile(join(dir, 'strings.heapsnapshot')));
    const c = classify(g);
    // The root's shortcut edge leads to the global object, whose properties are the globals.
    const held = new Map<string, number>();
    for (let r = g.firstEdge[0]!; r < g.firstEdge[1]!; r++) {
      if (g.edgeTypeName(r) !== 'shortcut') continue;
      const global = g.edgeTo[r]!;
      for (let e = g.firstEdge[global]!; e < g.firstEdge[global + 1]!; e++) {
        const name = g.edgeName(e);
        if (['left', 'right', 'sliced'].includes(name)) held.set(name, holderText(g, g.edgeTo[e]!));
      }
    }
    assert.deepEqual([...held.keys()].sort(), ['left', 'right', 'sliced']);
    let left = '';
    for (let i = 0; left.length < 60; i++) left += `p${i},`;
    let right = '';
    for (let i = DEPTH - 1; right.length < 60; i--) right += `q${i},`;
    const quoted = (s: string): string => JSON.stringify(`${s.slice(0, 60)}…`);
    assert.equal(g.typeName(held.get('left')!), 'concatenated string');
    let before = labelWork(g);
    assert.equal(nodeLabel(g, c, held.get('right')!), quoted(right));
    assert.ok(labelWork(g) - before <= 64, `right-deep: ${labelWork(g) - before} looks for one label`);
    before = labelWork(g);
    assert.equal(nodeLabel(g, c, held.get('left')!), quoted(left));
    // The first characters are 100,000 links down: read once, then remembered.
    assert.ok(labelWork(g) - before <= 1.1 * DEPTH, `left-deep: ${labelWork(g) - before} looks`);
    before = labelWork(g);
    assert.equal(nodeLabel(g, c, held.get('left')!), quoted(left));
    assert.ok(labelWork(g) - before <= 1, 'the same label again is remembered');
    // A sliced part shows its parent's text from the start (V8 writes no offset).
    assert.match(nodeLabel(g, c, held.get('sliced')!), /^"abcdefghijklmnopqrst/);
    // All concatenated strings of the process: about one look at each part.
    before = labelWork(g);
    let labels = 0;
    for (let v = 0; v < g.nodeCount; v++) {
      if (g.nodeType[v] !== g.T.concatString) continue;
      nodeLabel(g, c, v);
      labels++;
    }
    assert.ok(labels >= 3 * (DEPTH - 10), `${labels} concatenated strings`);
    assert.ok(labelWork(g) - before <= 4 * g.nodeCount, `${labelWork(g) - before} looks for ${labels} labels`);
  });
});

test('a concatenated string that contains itself (a corrupt file) labels what it can and ends', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'cycle.heapsnapshot');
    await writeFile(
      file,
      snapshotJson([
        { type: 'synthetic', name: '', size: 0, edges: [{ type: 'shortcut', name: 'holder', to: 1 }] },
        { type: 'object', name: 'Holder', size: 16, edges: [{ type: 'property', name: 'text', to: 2 }] },
        {
          type: 'concatenated string',
          name: '(concatenated string)',
          size: 32,
          edges: [
            { type: 'internal', name: 'first', to: 3 },
            { type: 'internal', name: 'second', to: 2 },
          ],
        },
        { type: 'string', name: 'head,', size: 16, edges: [] },
      ]),
    );
    const g = new HeapGraph(await parseSnapshotFile(file));
    assert.equal(holderText(g, 1), 2);
    assert.equal(nodeLabel(g, classify(g), 2), '"head,"');
  });
});

test('labels of chained strings read their first characters only, in order, through sliced parts', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'right.heapsnapshot');
    await writeFile(file, chainSnapshot('right', DEPTH));
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
    const nodes = pathTo(g, p, g.nodeCount - 1);
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
