import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { DirectSession } from '../../server/ort-direct.js';
import { ORT_SESSION_OPTIONS } from '../../server/repository.js';
import { toOrt } from '../../server/inference.js';
import { ctrTensors } from '../helpers/model-server.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('DirectSession: the native session run synchronously answers as the public async API, and names what is wrong', async () => {
  await withTmpDir('leakscope-direct-', async (dir) => {
    const [written] = await writeModelVersions(join(dir, 'ctr'), { features: 10, versions: [1] });
    const file = written!.path;
    const feeds = Object.fromEntries(ctrTensors(10, 4).map(([n, t]) => [n, toOrt(t)]));
    const pub = await ort.InferenceSession.create(file, { ...ORT_SESSION_OPTIONS });
    const direct = DirectSession.load(file, { ...ORT_SESSION_OPTIONS });
    try {
      assert.deepEqual(direct.inputNames, pub.inputNames);
      assert.deepEqual(direct.outputNames, pub.outputNames);
      const want = await pub.run(feeds);
      const got = direct.run(feeds, ['prob']);
      assert.ok(got.prob instanceof ort.Tensor, 'outputs are onnxruntime Tensors');
      assert.deepEqual(got.prob.dims, [4, 1]);
      assert.equal(got.prob.type, 'float32');
      assert.deepEqual([...(got.prob.data as Float32Array)], [...(want.prob!.data as Float32Array)]);
      const missing = { ...feeds };
      delete missing.user_age;
      assert.throws(() => direct.run(missing, ['prob']), /input 'user_age' is missing/);
      assert.throws(
        () => direct.run(feeds, ['no_such_output']),
        /'no_such_output' is not an output of this model \(outputs: prob\)/,
      );
      assert.throws(() => direct.run(feeds, []), /no output requested/);
      assert.deepEqual(
        [...(direct.run(feeds, ['prob']).prob!.data as Float32Array)],
        [...(want.prob!.data as Float32Array)],
        'a failed run leaves the session usable',
      );
    } finally {
      direct.release();
      await pub.release();
    }
    assert.throws(
      () => DirectSession.load(join(dir, 'none.onnx'), { ...ORT_SESSION_OPTIONS }),
      /none\.onnx.*doesn't exist/,
    );
  });
});
