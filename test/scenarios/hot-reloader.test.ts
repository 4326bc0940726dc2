import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { HotReloader } from '../../scenarios/hot-reloader.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const listing = (dir: string) => readdirSync(dir).sort();

test('each reload writes the version after the newest and keeps only it and the one before (other entries untouched)', async () => {
  await withTmpDir('leakscope-reload-', async (dir) => {
    const models = join(dir, 'ctr');
    await writeModelVersions(models, { features: 10, versions: [1, 7] });
    await mkdir(join(models, 'notes'));
    const lines: string[] = [];
    const r = HotReloader.start(models, 3600, (l) => lines.push(l));
    try {
      await r.next();
      assert.deepEqual(listing(models), ['7', '8', 'notes']);
      assert.deepEqual(readdirSync(join(models, '8')), ['model.onnx']);
      await r.next();
      assert.deepEqual(listing(models), ['8', '9', 'notes']);
      assert.deepEqual(lines, ['hot-reload: wrote version 8', 'hot-reload: wrote version 9']);
    } finally {
      await r.stop();
    }
  });
});

test('an empty folder gets version 1; a folder that cannot be listed is reported, not thrown, and nothing is written', async () => {
  await withTmpDir('leakscope-reload-', async (dir) => {
    const empty = join(dir, 'empty');
    await mkdir(empty);
    const lines: string[] = [];
    const r = HotReloader.start(empty, 3600, (l) => lines.push(l));
    await r.next();
    await r.stop();
    assert.deepEqual(listing(empty), ['1']);
    const notAFolder = join(dir, 'file');
    await writeFile(notAFolder, 'x');
    const bad = HotReloader.start(notAFolder, 3600, (l) => lines.push(l));
    await bad.next();
    await bad.stop();
    assert.match(lines.at(-1)!, /^hot-reload: could not write a new version into .*file: ENOTDIR/);
  });
});

test('on its interval it writes by itself; after stop() it writes nothing more', async () => {
  await withTmpDir('leakscope-reload-', async (dir) => {
    const models = join(dir, 'ctr');
    await writeModelVersions(models, { features: 10, versions: [1] });
    const lines: string[] = [];
    const r = HotReloader.start(models, 0.2, (l) => lines.push(l));
    const deadline = Date.now() + 20_000;
    while (lines.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 50));
    await r.stop();
    assert.ok(lines.length >= 1, 'no version written within 20 s at a 0.2 s interval');
    const after = listing(models);
    await new Promise((res) => setTimeout(res, 600));
    assert.deepEqual(listing(models), after, 'a stopped reloader wrote again');
  });
});
