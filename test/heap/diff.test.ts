import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffHeaps } from '../../analyzer/heap/diff.js';
import { loadClassifiedHeap } from '../../analyzer/heap/heap-analysis.js';
import { plainClass, plainGraph, plant, PLANTED, readJson, withTempDir, type PlainGraph } from './fixtures.js';

/** Per-class new/deleted counts and sizes from id sets over the raw JSON. */
function expectedDiff(a: PlainGraph, b: PlainGraph): Map<string, [number, number, number, number]> {
  const out = new Map<string, [number, number, number, number]>();
  const add = (g: PlainGraph, other: Set<number>, slot: 0 | 1): void => {
    for (let i = 0; i < g.n; i++) {
      if (other.has(g.id[i]!)) continue;
      const c = plainClass(g.type[i]!, g.name[i]!);
      const row = out.get(c) ?? [0, 0, 0, 0];
      row[slot]++;
      row[slot + 2]! += g.size[i]!;
      out.set(c, row);
    }
  };
  add(b, new Set(a.id), 0);
  add(a, new Set(b.id), 1);
  return out;
}

test('diff by class matches an independent id-set diff and shows the planted growth', async () => {
  await withTempDir(async (dir) => {
    const [baseline, target] = await plant(dir, 'executorCache');
    const d = diffHeaps(await loadClassifiedHeap(baseline), await loadClassifiedHeap(target), { top: 1e9 });
    const expected = expectedDiff(plainGraph(await readJson(baseline)), plainGraph(await readJson(target)));
    assert.equal(d.changedClassCount, expected.size);
    for (const r of d.rows) {
      assert.deepEqual([r.newCount, r.deletedCount, r.allocSize, r.freedSize], expected.get(r.className), r.className);
      assert.equal(r.deltaCount, r.newCount - r.deletedCount);
      assert.equal(r.deltaSize, r.allocSize - r.freedSize);
    }
    const entry = d.rows.find((r) => r.className === 'ExecutorEntry')!;
    assert.equal(entry.newCount, PLANTED.executorCache.leaked);
    assert.equal(entry.deletedCount, 50);
    // Sorted by |size delta|: the planted growth is near the top.
    assert.ok(
      d.rows.slice(0, 5).some((r) => r.className === 'ExecutorEntry'),
      d.rows
        .slice(0, 5)
        .map((r) => r.className)
        .join(', '),
    );
    const top = diffHeaps(await loadClassifiedHeap(baseline), await loadClassifiedHeap(target), { top: 3 });
    assert.equal(top.rows.length, 3);
    assert.deepEqual(top.totals, d.totals);
  });
});
