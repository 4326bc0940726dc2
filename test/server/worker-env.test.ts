/**
 * Handler threads start without NODE_OPTIONS' preloads (server/worker-env.ts): a profiler
 * preloaded into the server (Clinic.js) runs once, in the main thread, instead of once per
 * thread writing over the same pid-named files. And `serve --exit-with-pid`, the way a server
 * under such a wrapper (no stdin pipe) still goes with its spawner.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../common/package-root.js';
import { handlerThreadEnv } from '../../server/worker-env.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('handlerThreadEnv drops NODE_OPTIONS and keeps the rest of the environment', () => {
  assert.deepEqual(handlerThreadEnv({ PATH: '/bin', NODE_OPTIONS: '-r sampler.js --max-old-space-size=64', X: '1' }), {
    PATH: '/bin',
    X: '1',
  });
  assert.deepEqual(handlerThreadEnv({ PATH: '/bin' }), { PATH: '/bin' });
});

test('a preload in NODE_OPTIONS runs in the main thread only when workers start with handlerThreadEnv; without it, in every worker', async () => {
  await withTmpDir('leakscope-worker-env-', async (dir) => {
    const log = join(dir, 'preloads.log');
    const preload = join(dir, 'preload.cjs');
    await writeFile(
      preload,
      `require('node:fs').appendFileSync(${JSON.stringify(log)}, (require('node:worker_threads').isMainThread ? 'main' : 'worker') + '\\n');`,
    );
    const main = (env: string) => `
      import { Worker } from 'node:worker_threads';
      import { handlerThreadEnv } from ${JSON.stringify(join(packageRoot(), 'dist', 'server', 'worker-env.js'))};
      for (let i = 0; i < 2; i++)
        await new Promise((r) => new Worker('1', { eval: true, ${env} }).once('exit', r));`;
    const run = async (env: string) => {
      await writeFile(log, '');
      const r = spawnSync(process.execPath, ['--input-type=module', '-e', main(env)], {
        env: { ...process.env, NODE_OPTIONS: `--require ${preload}` },
        encoding: 'utf8',
        timeout: 30_000,
      });
      assert.equal(r.status, 0, r.stderr);
      return (await readFile(log, 'utf8')).trim().split('\n');
    };
    assert.deepEqual(await run(''), ['main', 'worker', 'worker'], 'Node runs preloads in workers by default');
    assert.deepEqual(await run('env: handlerThreadEnv()'), ['main']);
  });
});

test('serve --exit-with-pid: shuts down when that process is gone; a bad pid is a clear error', async () => {
  const serve = (args: string[]) =>
    spawnSync(
      process.execPath,
      [join(packageRoot(), 'bin', 'leakscope.js'), 'serve', '--port', '0', '--rest_api_port', '0', ...args],
      { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  for (const [arg, msg] of [
    ['abc', /--exit-with-pid: expected a process id, got 'abc'/],
    ['0', /--exit-with-pid: expected a process id, got '0'/],
    ['999999999', /--exit-with-pid 999999999: no such process/],
  ] as const) {
    const r = serve(['--exit-with-pid', arg]);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, msg);
  }
  // A "spawner" that only sleeps; the server has no stdin pipe (as under Clinic's Heap Profiler).
  const spawner = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const server = spawn(
    process.execPath,
    [
      join(packageRoot(), 'bin', 'leakscope.js'),
      'serve',
      '--port',
      '0',
      '--rest_api_port',
      '0',
      '--log-level',
      'warn',
      '--exit-with-pid',
      String(spawner.pid),
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('exit', (code) => reject(new Error(`the server exited before listening (${code})`)));
      createInterface({ input: server.stdout! }).once('line', () => resolve());
    });
    const exited = new Promise<number | null>((r) => server.once('exit', (code) => r(code)));
    spawner.kill('SIGKILL');
    const code = await Promise.race([exited, new Promise((r) => setTimeout(() => r('still running'), 10_000))]);
    assert.equal(code, 0, 'the server shut down gracefully once its spawner was gone');
  } finally {
    spawner.kill('SIGKILL');
    server.kill('SIGKILL');
  }
});
