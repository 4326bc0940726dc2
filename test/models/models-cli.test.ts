import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { main } from '../../cli/main.js';
import { captureIo } from '../helpers/capture-io.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('models build writes loadable versions and reports each file', () =>
  withTmpDir('leakscope-cli-models-', async (dir) => {
    const c = captureIo();
    const code = await main(
      ['models', 'build', '--out', dir, '--features', '12', '--versions', '1,2', '--seed', '5', '--hidden', '4'],
      c.io,
    );
    assert.equal(code, 0, c.err());
    assert.equal(c.err(), '');
    assert.match(c.out(), /wrote .*1[/\\]model\.onnx \(version 1, 12 features, hidden 4/);
    assert.match(c.out(), /wrote .*2[/\\]model\.onnx \(version 2/);
    assert.deepEqual((await readdir(dir)).sort(), ['1', '2']);
    const session = await ort.InferenceSession.create(join(dir, '2', 'model.onnx'));
    assert.equal(session.inputNames.length, 12);
    assert.deepEqual(session.outputNames, ['prob']);
    await session.release();
  }));

test('models build --help documents the options and the top-level help lists it', async () => {
  const c = captureIo();
  assert.equal(await main(['models', 'build', '--help'], c.io), 0);
  for (const opt of ['--out', '--features', '--versions', '--seed', '--hidden']) assert.ok(c.out().includes(opt), opt);
  const top = captureIo();
  assert.equal(await main(['--help'], top.io), 0);
  assert.match(top.out(), /models build/);
});

test('bad options exit 2 with a message naming the option, and write nothing', () =>
  withTmpDir('leakscope-cli-models-', async (dir) => {
    const out = join(dir, 'out');
    const cases: [string[], RegExp][] = [
      [[], /--out/],
      [['--out', out, '--features', '0'], /--features/],
      [['--out', out, '--features', 'ten'], /--features/],
      [['--out', out, '--features', '100000'], /--features/],
      [['--out', out, '--hidden', '0'], /--hidden/],
      [['--out', out, '--seed', '1.5'], /--seed/],
      [['--out', out, '--versions', '1,x'], /--versions/],
      [['--out', out, '--versions', ''], /--versions/],
      [['--out', out, '--versions', '2,2'], /--versions/],
      [['--out', out, '--bogus'], /bogus/],
      [['--out', out, 'extra'], /extra/],
    ];
    for (const [args, re] of cases) {
      const c = captureIo();
      assert.equal(await main(['models', 'build', ...args], c.io), 2, args.join(' '));
      assert.match(c.err(), re, args.join(' '));
      assert.doesNotMatch(c.err(), /\n\s+at /, `no stack trace for ${args.join(' ')}`);
    }
    assert.deepEqual(await readdir(dir), []);
  }));

test('an unwritable --out exits 2 naming it', () =>
  withTmpDir('leakscope-cli-models-', async (dir) => {
    const file = join(dir, 'not-a-folder');
    await writeFile(file, 'x');
    const c = captureIo();
    assert.equal(await main(['models', 'build', '--out', file], c.io), 2);
    assert.match(c.err(), /--out/);
  }));
