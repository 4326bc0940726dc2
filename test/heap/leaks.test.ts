import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeBackingStores } from '../../analyzer/heap/backing-stores.js';
import { findLeaks } from '../../analyzer/heap/leaks.js';
import { plant, PLANTED, withTempDir } from './fixtures.js';

test('executor cache leak: keys held by SessionCache.executors are the top candidates, with the path named', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaks(...(await plant(dir, 'executorCache')), { top: 5 });
    const top = r.groups[0]!;
    assert.equal(top.heldBy, 'SessionCache.executors.table');
    assert.match(
      top.path,
      /^global → global\.session \(Object\) → Object\.cache \(SessionCache\) → SessionCache\.executors \(Map\) → table → /,
    );
    // Exactly the entries made between baseline and target: not the 100 from before the
    // baseline (50 of which were evicted), nor the 100 added after the target.
    const entries = r.groups.find((g) => g.className === 'ExecutorEntry')!;
    assert.equal(entries.heldBy, 'SessionCache.executors.table');
    assert.equal(entries.count, PLANTED.executorCache.leaked);
    const keys = r.groups.find((g) => g.className === '(string)')!;
    assert.equal(keys.count, entries.count);
    assert.match(keys.path, /→ table → "(user_age|item_id|country|device),[a-z_,]+,f\d+->prob\/\/0\/"$/);
    assert.equal(top, keys, 'the key strings retain most');
    assert.equal(r.byClass.find((c) => c.className === 'ExecutorEntry')!.count, entries.count);
    assert.ok(r.groups.slice(0, 3).every((g) => g.heldBy === 'SessionCache.executors.table'));
  });
});

test('listener leak: closures registered on the emitter, named through _events', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaks(...(await plant(dir, 'listeners')), { top: 5 });
    const top = r.groups[0]!;
    assert.equal(top.className, '(closure)');
    assert.equal(top.count, PLANTED.listeners.leaked);
    assert.match(
      top.path,
      /global\.registry \(ModelRegistry\) → ModelRegistry\._events \(Object\) → Object\.reload \(Array\) → Array\[\d+\] \(onModelReload\(\)\)$/,
    );
    assert.equal(r.groups.find((g) => g.className === 'RequestContext')?.count, PLANTED.listeners.leaked);
  });
});

test('closure leak: handlers kept in Router.routes retain their scratch arrays', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaks(...(await plant(dir, 'closures')), { top: 5 });
    const top = r.groups[0]!;
    assert.equal(top.className, '(closure)');
    assert.equal(top.count, PLANTED.closures.leaked);
    assert.equal(top.heldBy, 'Router.routes[]');
    assert.match(top.path, /global\.router \(Router\) → Router\.routes \(Array\) → Array\[\d+\] \(handleRoute\(\)\)$/);
    // The retained size includes each closure's 64-element scratch array.
    assert.ok(top.retainedSize > top.count * 64 * 8, `retained ${top.retainedSize}`);
  });
});

test('retained array of buffers: Buffers in UploadSpool.pending retain their 16 KB backing stores', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaks(...(await plant(dir, 'buffers')), { top: 5 });
    const top = r.groups[0]!;
    assert.equal(top.className, 'Buffer');
    assert.equal(top.count, PLANTED.buffers.leaked);
    assert.equal(top.heldBy, 'UploadSpool.pending[]');
    assert.ok(top.retainedSize >= PLANTED.buffers.leaked * 16384, `retained ${top.retainedSize}`);
    // Each Buffer.alloc(16384) has its own backing store, counted once each.
    assert.deepEqual(top.backingStores, {
      count: PLANTED.buffers.leaked,
      bytes: PLANTED.buffers.leaked * 16384,
      each: 16384,
    });
    assert.equal(describeBackingStores(top.backingStores!), '3.13 MiB of backing stores (16 KiB each)');
    assert.equal(top.holder, 'pending', 'the property holding the array the Buffers are in');
    assert.equal(
      r.groups.find((g) => !/Buffer|Array/.test(g.className))?.backingStores ?? null,
      null,
      'objects that are not buffers hold no backing stores',
    );
    assert.match(
      top.path,
      /global\.spool \(UploadSpool\) → UploadSpool\.pending \(Array\) → Array\[\d+\] \(Buffer@\d+\)$/,
    );
  });
});

test('control: objects released before the final snapshot are not candidates', async () => {
  await withTempDir(async (dir) => {
    const r = await findLeaks(...(await plant(dir, 'released')), { top: 5 });
    // At most the last object made may linger in a stack slot of the program.
    const entries = r.groups.filter((g) => g.className === 'ExecutorEntry');
    assert.ok(
      entries.every((g) => g.count === 1 && g.heldBy.startsWith('(Stack roots)')),
      JSON.stringify(entries.map((g) => g.heldBy)),
    );
    assert.ok(r.candidateCount < 100, `only incidental candidates, got ${r.candidateCount}`);
  });
});
