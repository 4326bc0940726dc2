import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { buildCtrModel } from '../../wire/models/ctr-model.js';
import { defaultCacheDir, ensureBuiltinModel, writeModelVersions } from '../../wire/models/write-models.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('writeModelVersions writes DIR/<version>/model.onnx and leaves no temporary files', () =>
  withTmpDir('leakscope-write-', async (dir) => {
    const base = join(dir, 'ctr');
    const written = await writeModelVersions(base, { features: 6, versions: [1, 2], seed: 9 });
    assert.deepEqual(
      written.map((w) => [w.version, w.path]),
      [
        [1, join(base, '1', 'model.onnx')],
        [2, join(base, '2', 'model.onnx')],
      ],
    );
    assert.deepEqual((await readdir(base)).sort(), ['1', '2']);
    assert.deepEqual(await readdir(join(base, '2')), ['model.onnx']);
    const bytes = await readFile(join(base, '2', 'model.onnx'));
    assert.ok(bytes.equals(buildCtrModel({ features: 6, seed: 9, version: 2 }).bytes));
    const session = await ort.InferenceSession.create(join(base, '1', 'model.onnx'));
    assert.equal(session.inputNames.length, 6);
    await session.release();
  }));

test('rewriting an existing version replaces the file in place', () =>
  withTmpDir('leakscope-write-', async (dir) => {
    await writeModelVersions(dir, { features: 3, versions: [1] });
    await writeModelVersions(dir, { features: 5, versions: [1] });
    assert.deepEqual(await readdir(join(dir, '1')), ['model.onnx']);
    const bytes = await readFile(join(dir, '1', 'model.onnx'));
    assert.ok(bytes.equals(buildCtrModel({ features: 5, version: 1 }).bytes));
  }));

test('ensureBuiltinModel builds once into the cache and keeps an existing file', () =>
  withTmpDir('leakscope-write-', async (dir) => {
    // Concurrent first starts must all succeed and agree on the file.
    const bases = await Promise.all([1, 2, 3, 4].map(() => ensureBuiltinModel(dir)));
    const base = join(dir, 'models', 'ctr');
    assert.deepEqual(new Set(bases), new Set([base]));
    const file = join(base, '1', 'model.onnx');
    assert.ok((await readFile(file)).equals(buildCtrModel().bytes));
    assert.deepEqual(await readdir(base), ['1']);

    await writeFile(file, 'sentinel');
    const before = await stat(file);
    assert.equal(await ensureBuiltinModel(dir), base);
    assert.equal(await readFile(file, 'utf8'), 'sentinel');
    assert.equal((await stat(file)).mtimeMs, before.mtimeMs);
  }));

test('default cache folder: LEAKSCOPE_CACHE_DIR, else XDG_CACHE_HOME, else ~/.cache', () => {
  assert.equal(defaultCacheDir({ LEAKSCOPE_CACHE_DIR: '/x/cache', XDG_CACHE_HOME: '/xdg' }), '/x/cache');
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' }), join('/xdg', 'leakscope'));
  assert.equal(defaultCacheDir({}), join(homedir(), '.cache', 'leakscope'));
});
