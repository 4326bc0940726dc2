import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { GrpcCode } from '../../common/errors.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { ctrTensors, withModelServer } from '../helpers/model-server.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('HandleReloadConfigRequest: /etc, /proc/self, ../../ escapes, a symlink out, a missing or a file base path each get a non-zero error_code with a message, and change nothing', async () => {
  await withModelServer({}, async ({ grpc, root }) => {
    await symlink('/etc', join(root, 'etc-link'));
    await mkdir(join(root, 'empty'));
    const dotdot = join(relative(process.cwd(), root), '..', '..', '..', '..', '..', '..', '..', '..', 'etc');
    const cases: Array<[string, string, number, RegExp]> = [
      ['/etc', '/etc', GrpcCode.PERMISSION_DENIED, /base path \/etc is outside the allowed model roots/],
      [
        '/proc/self',
        '/proc/self',
        GrpcCode.PERMISSION_DENIED,
        /\/proc\/self \(\/proc\/\d+\) is outside the allowed model roots/,
      ],
      ['../../ escape', dotdot, GrpcCode.PERMISSION_DENIED, /is outside the allowed model roots/],
      ['symlink out of the root', join(root, 'etc-link'), GrpcCode.PERMISSION_DENIED, /\(\/etc\) is outside/],
      ['missing folder', join(root, 'nope'), GrpcCode.NOT_FOUND, /Could not find base path .*nope for servable x/],
      ['a file', join(root, 'ctr', '1', 'model.onnx'), GrpcCode.INVALID_ARGUMENT, /is not a folder/],
    ];
    for (const [what, base_path, code, re] of cases) {
      const r = await grpc.reloadConfig([{ name: 'x', base_path }]);
      assert.equal(r.status?.error_code, code, `${what}: ${r.status?.error_message}`);
      assert.match(r.status!.error_message!, re, what);
    }
    // One bad path among good ones applies nothing: ctr still serves.
    const mixed = await grpc.reloadConfig([
      { name: 'ctr', base_path: join(root, 'ctr') },
      { name: 'x', base_path: '/etc' },
    ]);
    assert.equal(mixed.status?.error_code, GrpcCode.PERMISSION_DENIED);
    await grpc.predict({ name: 'ctr' }, ctrTensors());
    await assert.rejects(grpc.status({ name: 'x' }), (e: any) => e.code === GrpcCode.NOT_FOUND);
    // A folder under the root is fine.
    const ok = await grpc.reloadConfig([
      { name: 'ctr', base_path: join(root, 'ctr') },
      { name: 'e', base_path: join(root, 'empty') },
    ]);
    assert.equal(ok.status?.error_code ?? 0, 0, ok.status?.error_message);
  });
});

test('--allowed_model_roots replaces the default roots', async () => {
  await withTmpDir('leakscope-roots-', async (elsewhere) => {
    await writeModelVersions(join(elsewhere, 'm'), { features: 3, versions: [1] });
    await withModelServer({}, async ({ grpc }) => {
      const r = await grpc.reloadConfig([{ name: 'm', base_path: join(elsewhere, 'm') }]);
      assert.equal(r.status?.error_code, GrpcCode.PERMISSION_DENIED);
    });
    await withModelServer({ allowed_model_roots: `/nonexistent-root,${elsewhere}` }, async ({ grpc }) => {
      const r = await grpc.reloadConfig([{ name: 'm', base_path: join(elsewhere, 'm') }]);
      assert.equal(r.status?.error_code ?? 0, 0, r.status?.error_message);
      await grpc.predict({ name: 'm' }, ctrTensors(3));
    });
  });
});
