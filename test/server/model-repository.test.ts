import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GrpcCode } from '../../common/errors.js';
import { InlineRunner } from '../../server/inference.js';
import { parseModelConfigList, readModelConfigFile } from '../../server/model-config.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { aspiredVersions } from '../../server/repository.js';
import { validateServerOptions } from '../../server/options.js';
import { withTmpDir } from '../helpers/tmp-dir.js';
import { ctrTensors, getJson, withModelServer } from '../helpers/model-server.js';

async function until(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('version policies pick the versions TF Serving would', () => {
  const found = [3, 1, 10, 2];
  assert.deepEqual(aspiredVersions(found, { kind: 'latest', numVersions: 1 }), [10]);
  assert.deepEqual(aspiredVersions(found, { kind: 'latest', numVersions: 2 }), [10, 3]);
  assert.deepEqual(aspiredVersions(found, { kind: 'all' }), [10, 3, 2, 1]);
  assert.deepEqual(aspiredVersions(found, { kind: 'specific', versions: [2, 7] }), [2]);
});

test('model config lists are validated with messages naming the field', async () => {
  const bad: Array<[unknown, RegExp]> = [
    [[], /list of models is empty/],
    [[{ base_path: '/x' }], /\[0\]\.name/],
    [
      [
        { name: 'a', base_path: '/x' },
        { name: 'a', base_path: '/y' },
      ],
      /\[1\]\.name: model 'a' is listed twice/,
    ],
    [[{ name: 'a' }], /\[0\]\.base_path/],
    [[{ name: 'a', base_path: '/x', model_version_policy: { newest: {} } }], /unknown policy 'newest'/],
    [[{ name: 'a', base_path: '/x', model_version_policy: { specific: { versions: [] } } }], /specific\.versions/],
    [[{ name: 'a', base_path: '/x', model_version_policy: { latest: { num_versions: 0 } } }], /num_versions/],
    [[{ name: 'a', base_path: '/x', model_platform: 'pytorch' }], /model_platform/],
  ];
  for (const [list, re] of bad) assert.throws(() => parseModelConfigList(list, 'model_config_list', '/'), re);
  await withTmpDir('leakscope-cfg-', async (dir) => {
    const f = join(dir, 'models.json');
    await writeFile(
      f,
      JSON.stringify({
        model_config_list: {
          config: [{ name: 'ctr', base_path: 'rel/ctr', model_version_policy: { latest: { num_versions: 2 } } }],
        },
      }),
    );
    const [m] = readModelConfigFile(f);
    assert.equal(m!.basePath, join(dir, 'rel/ctr'));
    assert.deepEqual(m!.policy, { kind: 'latest', numVersions: 2 });
    await writeFile(f, '{not json');
    assert.throws(() => readModelConfigFile(f), /models\.json: not valid JSON/);
    assert.throws(() => readModelConfigFile(join(dir, 'absent.json')), /cannot read it \(ENOENT\)/);
  });
  assert.throws(() => validateServerOptions({ port: 'http' }), /--port: expected an integer/);
  assert.throws(() => validateServerOptions({ model_name: 'x' }), /--model_name: needs --model_base_path/);
  assert.throws(() => validateServerOptions({ mode: 'half' }), /--mode: expected leaky or patched/);
  assert.throws(
    () => validateServerOptions({ fixes: 'sort-inputs,magic' }),
    /--fixes: unknown fix "magic" \(known: sort-inputs/,
  );
});

test('hot reload: a new version is loaded, then the old one unloaded; a corrupt or missing one goes to END and the serving version keeps serving', async () => {
  await withModelServer({ file_system_poll_wait_seconds: 0.1 }, async ({ grpc, modelDir, rest, root }) => {
    const versionOf = async () =>
      Number((await grpc.predict({ name: 'ctr' }, ctrTensors())).model_spec?.version?.value);
    assert.equal(await versionOf(), 1);
    await writeModelVersions(modelDir, { features: 10, versions: [2] });
    await until('version 2 to serve', async () => (await versionOf()) === 2);
    await until(
      'version 1 to be unloaded',
      async () => (await getJson(`${rest}/v1/models/ctr/versions/1`)).body.model_version_status?.[0]?.state === 'END',
    );

    // Put the corrupt version in place whole, so the poller never sees its folder empty.
    await mkdir(join(root, 'staging-3'));
    await writeFile(join(root, 'staging-3', 'model.onnx'), Buffer.from('this is not an onnx model'));
    await rename(join(root, 'staging-3'), join(modelDir, '3'));
    await until(
      'version 3 to fail',
      async () => (await getJson(`${rest}/v1/models/ctr/versions/3`)).body.model_version_status?.[0]?.state === 'END',
    );
    const v3 = (await grpc.status({ name: 'ctr', version: 3 })).model_version_status![0]!;
    assert.equal(v3.status?.error_code, GrpcCode.INVALID_ARGUMENT);
    assert.match(v3.status!.error_message!, /version 3: onnxruntime cannot load/);
    assert.equal(await versionOf(), 2, 'version 2 keeps serving while 3 is broken');

    await mkdir(join(modelDir, '4'));
    await until(
      'version 4 (no model file) to fail',
      async () => (await getJson(`${rest}/v1/models/ctr/versions/4`)).body.model_version_status?.[0]?.state === 'END',
    );
    const v4 = (await getJson(`${rest}/v1/models/ctr/versions/4`)).body.model_version_status[0];
    assert.equal(v4.status.error_code, 'NOT_FOUND');
    assert.match(v4.status.error_message, /no model file/);
    assert.equal(await versionOf(), 2);

    // Fixing the broken version's file makes the poller retry it.
    await writeModelVersions(modelDir, { features: 10, versions: [4] });
    await until('version 4 to serve once fixed', async () => (await versionOf()) === 4);
  });
});

test('HandleReloadConfigRequest replaces the served models; an invalid config is refused with a status and changes nothing', async () => {
  await withModelServer({}, async ({ grpc, root, modelDir }) => {
    const other = join(root, 'other');
    await writeModelVersions(other, { features: 3, versions: [5, 6] });
    const ok = await grpc.reloadConfig([
      { name: 'ctr', base_path: modelDir },
      { name: 'small', base_path: other, model_version_policy: { all: {} } },
    ]);
    assert.equal(ok.status?.error_code ?? 0, 0, ok.status?.error_message);
    const st = await grpc.status({ name: 'small' });
    assert.deepEqual(
      st.model_version_status?.map((v) => [Number(v.version), v.state]),
      [
        [6, 30],
        [5, 30],
      ],
    );
    const bad = await grpc.reloadConfig([
      { name: 'dup', base_path: other },
      { name: 'dup', base_path: other },
    ]);
    assert.equal(bad.status?.error_code, GrpcCode.INVALID_ARGUMENT);
    assert.match(bad.status!.error_message!, /listed twice/);
    assert.equal(
      (await grpc.status({ name: 'small' })).model_version_status?.length,
      2,
      'the bad config changed nothing',
    );
    const dropped = await grpc.reloadConfig([
      { name: 'small', base_path: other, model_version_policy: { specific: { versions: [5] } } },
    ]);
    assert.equal(dropped.status?.error_code ?? 0, 0);
    await assert.rejects(grpc.status({ name: 'ctr' }), (e: any) => e.code === GrpcCode.NOT_FOUND);
    const small = await grpc.predict({ name: 'small' }, ctrTensors(3));
    assert.equal(Number(small.model_spec?.version?.value), 5);
  });
});

test('hot swap under load: zero failed requests while versions are written and retired', async () => {
  await withModelServer(
    { file_system_poll_wait_seconds: 0.1 },
    async ({ grpc, modelDir }) => {
      const seen = new Map<number, number>();
      const failures: string[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const r = await grpc.predict({ name: 'ctr' }, ctrTensors());
            const v = Number(r.model_spec?.version?.value);
            seen.set(v, (seen.get(v) ?? 0) + 1);
          } catch (e) {
            failures.push((e as Error).message);
          }
        }
      };
      const load = Array.from({ length: 6 }, worker);
      for (const v of [2, 3, 4]) {
        await new Promise((r) => setTimeout(r, 600));
        await writeModelVersions(modelDir, { features: 10, versions: [v] });
      }
      await new Promise((r) => setTimeout(r, 800));
      stop = true;
      await Promise.all(load);
      assert.deepEqual(failures, []);
      assert.ok(seen.size >= 3, `requests were served by versions ${[...seen.keys()].join(', ')}`);
      assert.ok((seen.get(4) ?? 0) > 0, 'the last version served');
    },
    // Slow requests make it likely a request is in flight on the version being retired.
    { runner: new InlineRunner(5) },
  );
});
