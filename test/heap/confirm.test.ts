import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findLeaksAcross } from '../../analyzer/heap/leaks.js';
import { type SpecNode, snapshotJson, withTempDir } from './fixtures.js';

/**
 * Hand-built snapshots of one heap over time. Holders (alive from the start) each keep an
 * array of items; `items[holder]` lists the item ids alive in that snapshot. Ids are
 * stable across snapshots, as V8's are, so "first seen" is exact.
 */
function heapAt(items: Record<string, readonly number[]>, classOf: Record<string, string> = {}): string {
  const nodes: SpecNode[] = [{ type: 'synthetic', name: '', size: 0, edges: [], id: 1 }];
  let holderId = 1_000_001;
  for (const [holder, ids] of Object.entries(items)) {
    const h = nodes.push({ type: 'object', name: `${holder}Holder`, size: 32, edges: [], id: holderId }) - 1;
    const arr = nodes.push({ type: 'array', name: '', size: 16 + 8 * ids.length, edges: [], id: holderId + 2 }) - 1;
    holderId += 4;
    nodes[0]!.edges.push({ type: 'property', name: holder, to: h });
    nodes[h]!.edges.push({ type: 'internal', name: 'items', to: arr });
    ids.forEach((id, k) => {
      const item = nodes.push({ type: 'object', name: classOf[holder] ?? holder, size: 64, edges: [], id }) - 1;
      nodes[arr]!.edges.push({ type: 'element', name: k, to: item });
    });
  }
  return snapshotJson(nodes);
}

/** Item ids (odd, as V8's object ids are), clear of the root's and the holders'. */
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => 2 * (from + k) + 101);

/** Four snapshots: baseline, two between (the second is the target), final. */
const TIMELINE: Record<string, number[][]> = {
  // Grows in every pair: 3 more items each time.
  Leak: [range(0, 2), range(0, 5), range(0, 8), range(0, 11)],
  // Grows after the baseline, then stops (warm-up): not a leak.
  Warm: [range(100, 101), range(100, 140), range(100, 140), range(100, 140)],
  // A bounded cache: entries replaced, never more than 4.
  Cache: [range(200, 204), range(202, 206), range(204, 208), range(206, 210)],
  // Grows only from the target on, but by more bytes than Leak: a real leak, ranked second.
  Late: [range(300, 301), range(300, 301), range(300, 330), range(300, 360)],
};

async function timeline(dir: string, pick: readonly number[] = [0, 1, 2, 3]): Promise<string[]> {
  const files: string[] = [];
  for (const k of pick) {
    const file = join(dir, `s${k}.heapsnapshot`);
    const at = Object.fromEntries(Object.entries(TIMELINE).map(([h, ids]) => [h, ids[k]!]));
    await writeFile(file, heapAt(at));
    files.push(file);
  }
  return files;
}

test('N-snapshot confirmation: growth that stopped and a bounded cache are not candidates; growth in every pair ranks first', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaksAcross(await timeline(dir), { top: 10 });
    assert.deepEqual(
      r.groups.map((g) => [g.className, g.grewInPairs, g.pairs]),
      [
        ['Leak', 3, 3],
        ['Late', 2, 3],
      ],
    );
    const leak = r.groups[0]!;
    // Members first seen by the target (not the 3 made after it), and per interval.
    assert.equal(leak.count, 6);
    assert.deepEqual(leak.newPerInterval, [3, 3, 3]);
    assert.equal(leak.heldBy, 'LeakHolder.items[]');
    // Cache: it gained surviving entries in every pair, but its class did not grow.
    assert.deepEqual(
      r.stopped.map((s) => s.className),
      ['Warm', 'Cache'],
    );
    assert.equal(r.stoppedCount, 2);
    assert.equal(r.candidateCount, 6 + 29, 'candidates are the members of groups still growing');
    assert.deepEqual(r.snapshots.length, 4);
  });
});

test('three snapshots: a class that grew baseline → target and stayed target → final is warm-up, not a leak', async () => {
  await withTempDir(async (dir) => {
    // baseline, the third snapshot as target (Warm grew), final (Warm flat, Leak grew).
    const files = await timeline(dir, [0, 2, 3]);
    const r = await findLeaksAcross(files, { top: 10 });
    // Both grew in both pairs: by retained size.
    assert.deepEqual(
      r.groups.map((g) => [g.className, g.grewInPairs]),
      [
        ['Late', 2],
        ['Leak', 2],
      ],
    );
    assert.ok(r.stopped.some((s) => s.className === 'Warm'));
    const kept = await findLeaksAcross(files, { top: 10, keepStopped: true });
    assert.ok(
      kept.groups.some((g) => g.className === 'Warm'),
      'keepStopped keeps the warm-up group',
    );
  });
});

test('three snapshots: a leak whose class shrinks target → final (requests in flight at the target held more of it) is still a leak; a bounded cache at the same size is not', async () => {
  // The small-run culprit: keys added after the target, while the target's capture caught
  // requests in flight holding more objects of the keys' class than the leak added since.
  const at: Record<string, number[]>[] = [
    { Leak: range(0, 2), Inflight: [], Cache: range(200, 204) },
    { Leak: range(0, 5), Inflight: range(400, 410), Cache: range(202, 206) },
    { Leak: range(0, 8), Inflight: [], Cache: range(204, 208) },
  ];
  await withTempDir(async (dir) => {
    const files: string[] = [];
    for (const [k, items] of at.entries()) {
      files.push(join(dir, `s${k}.heapsnapshot`));
      await writeFile(files[k]!, heapAt(items, { Inflight: 'Leak' }));
    }
    const r = await findLeaksAcross(files, { top: 10 });
    // The class "Leak" went from 15 objects to 8, yet its group grew from 5 to 8 members.
    assert.deepEqual(
      r.groups.map((g) => [g.className, g.heldBy, g.count, g.newPerInterval]),
      [['Leak', 'LeakHolder.items[]', 3, [3, 3]]],
    );
    // The cache replaced half of its baseline entries by the target and the rest by the
    // final: it gained survivors in each pair, but holds 4 entries in each snapshot.
    assert.deepEqual(
      r.stopped.map((s) => s.className),
      ['Cache'],
    );
  });
});

test('bad input: fewer than three snapshots is a clear error naming the count', async () => {
  await withTempDir(async (dir) => {
    const files = await timeline(dir, [0, 3]);
    await assert.rejects(findLeaksAcross(files), {
      code: 'LS_ERR_INVALID_OPTION',
      message: /at least 3 snapshots \(baseline, target, final\), got 2/,
    });
  });
});
