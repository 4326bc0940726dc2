import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../common/package-root.js';
import { alive, until } from '../helpers/processes.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/** A parent process that spawns a reference server the way the runner does, prints its pid and model folder, and waits. */
const PARENT = `
import { spawnReferenceServer } from ${JSON.stringify(join(packageRoot(), 'dist', 'scenarios', 'targets.js'))};
const t = await spawnReferenceServer({ mode: 'leaky', diagnosticsDir: process.argv[2] });
console.log(JSON.stringify({ pid: t.pid, modelDir: t.modelDir }));
setInterval(() => {}, 1000);
`;

for (const signal of ['SIGKILL', 'SIGTERM'] as const) {
  test(`${signal} of a parent that spawned a reference server: the server is gone within seconds and its model folder removed`, async () => {
    await withTmpDir('leakscope-orphan-', async (tmp) => {
      const parent = spawn(process.execPath, ['--input-type=module', '-e', PARENT, join(tmp, 'snaps')], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let server: { pid: number; modelDir: string } | undefined;
      try {
        server = await new Promise((resolve, reject) => {
          parent.once('exit', (code) => reject(new Error(`the parent exited early (${code})`)));
          createInterface({ input: parent.stdout! }).once('line', (l) => resolve(JSON.parse(l)));
        });
        assert.ok(alive(server!.pid) && existsSync(server!.modelDir));
        parent.kill(signal);
        await until('the server to exit', 10_000, () => !alive(server!.pid));
        await until('its model folder to be removed', 5_000, () => !existsSync(dirname(server!.modelDir)));
      } finally {
        parent.kill('SIGKILL');
        if (server && alive(server.pid)) process.kill(server.pid, 'SIGKILL');
      }
    });
  });
}

test('every option is checked before anything is spawned or written: run --fixes sort-inputs,bogus exits 2 naming the fix, no run folder', async () => {
  await withTmpDir('leakscope-badfix-', async (tmp) => {
    const out = join(tmp, 'run');
    const r = spawnSync(
      process.execPath,
      [
        join(packageRoot(), 'bin', 'leakscope.js'),
        'run',
        'shuffled-input',
        '--fixes',
        'sort-inputs,bogus',
        '--out',
        out,
      ],
      { encoding: 'utf8', timeout: 30_000 },
    );
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /--fixes: unknown fix .bogus./);
    assert.equal(existsSync(out), false, 'no run folder');
  });
});

test('serve refuses --exit-with-parent without a pipe on stdin, and --remove-on-exit outside a leakscope-* temp folder', async () => {
  const serve = (args: string[]) =>
    spawnSync(
      process.execPath,
      [join(packageRoot(), 'bin', 'leakscope.js'), 'serve', '--port', '0', '--rest_api_port', '0', ...args],
      { encoding: 'utf8', timeout: 30_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
  const r1 = serve(['--exit-with-parent']);
  assert.equal(r1.status, 2);
  assert.match(r1.stderr, /--exit-with-parent: stdin must be a pipe/);
  const r2 = serve(['--remove-on-exit', '/etc']);
  assert.equal(r2.status, 2);
  assert.match(r2.stderr, /--remove-on-exit \/etc: (only a folder directly in the temp dir|owned by uid 0)/);
  assert.ok(existsSync('/etc'));
  const other = await mkdtemp(join(tmpdir(), 'not-ours-'));
  const r3 = serve(['--remove-on-exit', other]);
  assert.equal(r3.status, 2);
  assert.match(r3.stderr, /only a folder named leakscope-\*/);
  assert.ok(existsSync(other));
  spawnSync('rmdir', [other]);
});
