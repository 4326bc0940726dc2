import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeSnapshot } from '../../analyzer/heap/heap-analysis.js';
import { summarizeHeap } from '../../analyzer/heap/summary.js';
import { plainClass, plainGraph, plant, PLANTED, readJson, withTempDir } from './fixtures.js';

test('summary counts and self sizes per class agree with an independent count from the raw JSON', async () => {
  await withTempDir(async (dir) => {
    const [, target] = await plant(dir, 'executorCache');
    const s = summarizeHeap(await analyzeSnapshot(target), { top: 1e9, topObjects: 5 });
    const pg = plainGraph(await readJson(target));
    const expected = new Map<string, { count: number; size: number }>();
    for (let i = 0; i < pg.n; i++) {
      const c = plainClass(pg.type[i]!, pg.name[i]!);
      const row = expected.get(c) ?? { count: 0, size: 0 };
      row.count++;
      row.size += pg.size[i]!;
      expected.set(c, row);
    }
    assert.equal(s.classCount, expected.size);
    assert.equal(s.classes.length, expected.size);
    for (const r of s.classes) {
      assert.deepEqual({ count: r.count, size: r.selfSize }, expected.get(r.className), r.className);
      assert.ok(r.retainedSize >= r.selfSize && r.retainedSize <= s.totalSize, `${r.className} retained within bounds`);
    }
    const entries = s.classes.find((r) => r.className === 'ExecutorEntry')!;
    assert.equal(entries.count, 100 + PLANTED.executorCache.leaked - 50);
    assert.equal(
      s.totalSize,
      pg.size.reduce((a, b) => a + b, 0),
    );
    // The cache is named by its path, and it retains all its entries.
    const cache = s.topObjects.find((o) => /SessionCache\.executors \(Map@\d+\)$/.test(o.path));
    assert.ok(cache, `the executor Map is among the top objects: ${s.topObjects.map((o) => o.path).join(' | ')}`);
    assert.match(
      cache.path,
      /^global → global\.session \(Object\) → Object\.cache \(SessionCache\) → SessionCache\.executors/,
    );
    assert.ok(cache.retainedSize >= entries.retainedSize, 'the Map retains at least its entries');
    assert.equal(s.classes[0]!.retainedSize, s.totalSize, 'the synthetic root class holds everything');
  });
});
