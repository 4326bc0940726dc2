import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { classify } from '../../analyzer/heap/class-names.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { findLeaks } from '../../analyzer/heap/leaks.js';
import { computeShortestPaths, nodeLabel, pathSteps, pathTo, renderPath } from '../../analyzer/heap/paths.js';
import { parseSnapshotFile } from '../../analyzer/heap/snapshot-parser.js';
import { chainSnapshot, withTempDir } from './fixtures.js';

const DEPTH = 100_000;

async function timedLeaks(dir: string, kind: 'left' | 'right' | 'objects') {
  const base = join(dir, `${kind}-base.heapsnapshot`);
  const final = join(dir, `${kind}-final.heapsnapshot`);
  await writeFile(base, chainSnapshot(kind, DEPTH, true));
  await writeFile(final, chainSnapshot(kind, DEPTH));
  const t0 = performance.now();
  // The final is the target again: nothing grew in the last pair, so keep every group.
  const report = await findLeaks(base, final, final, { top: 10, keepStopped: true });
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
