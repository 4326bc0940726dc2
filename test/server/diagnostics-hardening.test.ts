import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chown, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { basename, dirname, join } from 'node:path';
import { isLsError } from '../../common/errors.js';
import { startServer } from '../../server/server.js';
import { withModelServer } from '../helpers/model-server.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/** A raw request with the headers given (fetch will not send a Host of our choosing). */
function call(
  port: number,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('diagnostics answer only their own loopback Host and no cross-origin browser request (DNS rebinding)', async () => {
  await withTmpDir('leakscope-diag-host-', async (tmp) => {
    await withModelServer({ diagnostics: true, diagnostics_dir: join(tmp, 'snaps') }, async ({ server }) => {
      const port = server.diagnosticsPort!;
      const ok = await call(port, 'GET', '/diagnostics/summary', { host: `127.0.0.1:${port}` });
      assert.equal(ok.status, 200);
      assert.equal((await call(port, 'GET', '/diagnostics/summary', { host: `localhost:${port}` })).status, 200);
      const refused: Array<[Record<string, string>, RegExp]> = [
        [{ host: `evil.example:${port}` }, /Host 'evil\.example:\d+' is not this diagnostics listener/],
        [{ host: `127.0.0.1:${port + 1}` }, /is not this diagnostics listener/],
        [
          { host: `127.0.0.1:${port}`, origin: 'http://evil.example' },
          /cross-origin request from 'http:\/\/evil\.example'/,
        ],
        [{ host: `127.0.0.1:${port}`, 'sec-fetch-site': 'cross-site' }, /Sec-Fetch-Site: cross-site/],
      ];
      for (const [headers, re] of refused) {
        const r = await call(port, 'POST', '/diagnostics/heap-snapshot', headers);
        assert.equal(r.status, 403, JSON.stringify(headers));
        assert.match(r.body.error, re);
      }
      assert.deepEqual(await readdir(join(tmp, 'snaps')), [], 'no refused request wrote anything');
    });
  });
});

test('without a configured folder: a private 0700 folder under $XDG_RUNTIME_DIR, files 0600, removed at close when empty', async () => {
  await withTmpDir('leakscope-xdg-', async (xdg) => {
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = xdg;
    try {
      let dir = '';
      await withModelServer({ diagnostics: true }, async ({ server }) => {
        const port = server.diagnosticsPort!;
        const host = { host: `127.0.0.1:${port}` };
        dir = (await call(port, 'GET', '/diagnostics/summary', host)).body.captures.dir;
        assert.equal(dirname(dir), xdg);
        assert.match(dir, /leakscope-diagnostics-/);
        assert.equal((await stat(dir)).mode & 0o777, 0o700);
        const snap = await call(port, 'POST', '/diagnostics/heap-snapshot', host);
        assert.equal(snap.status, 200, JSON.stringify(snap.body));
        assert.equal(dirname(snap.body.file), dir);
        assert.equal((await stat(snap.body.file)).mode & 0o777, 0o600);
      });
      assert.equal((await readdir(dir)).length, 1, 'a folder holding a capture is kept');
      await withModelServer({ diagnostics: true }, async () => undefined);
      assert.deepEqual(await readdir(xdg), [basename(dir)], 'the empty one is gone');
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });
});

test('a configured folder that is a symlink or not owned by this user is refused at start, not followed', async () => {
  await withTmpDir('leakscope-diag-dir-', async (tmp) => {
    const real = join(tmp, 'real');
    await mkdir(real);
    await symlink(real, join(tmp, 'link'));
    const start = (dir: string) =>
      startServer({
        port: 0,
        rest_api_port: 0,
        log_level: 'silent',
        diagnostics: true,
        diagnostics_dir: dir,
        model_name: 'ctr',
        model_base_path: join(tmp, 'no-models'),
      });
    await assert.rejects(
      start(join(tmp, 'link')),
      (e) =>
        isLsError(e) &&
        e.code === 'LS_ERR_INVALID_OPTION' &&
        /is a symbolic link; refusing to follow it/.test(e.message),
    );
    assert.deepEqual(await readdir(real), []);
    if (process.getuid?.() === 0) {
      const other = join(tmp, 'other');
      await mkdir(other);
      await chown(other, 65534, 65534);
      await assert.rejects(
        start(other),
        (e) => isLsError(e) && /is owned by uid 65534, not by this user/.test(e.message),
      );
    }
    const file = join(tmp, 'file');
    await writeFile(file, 'x');
    await assert.rejects(start(file), (e) => isLsError(e) && /exists and is not a folder/.test(e.message));
  });
});

test('the capture quota (count) and the free-disk reserve refuse with 429 and say which limit', async () => {
  await withTmpDir('leakscope-diag-quota-', async (tmp) => {
    const dir = join(tmp, 'snaps');
    await withModelServer(
      { diagnostics: true, diagnostics_dir: dir, diagnostics_max_captures: 2 },
      async ({ server }) => {
        const port = server.diagnosticsPort!;
        const host = { host: `127.0.0.1:${port}` };
        assert.equal((await call(port, 'POST', '/diagnostics/heap-snapshot', host)).status, 200);
        assert.equal((await call(port, 'POST', '/diagnostics/heap-snapshot', host)).status, 200);
        const third = await call(port, 'POST', '/diagnostics/heap-snapshot', host);
        assert.equal(third.status, 429);
        assert.match(third.body.error, /2 of 2 captures written by this server \(--diagnostics-max-captures\)/);
        assert.equal((await readdir(dir)).length, 2);
        const sum = await call(port, 'GET', '/diagnostics/summary', host);
        assert.equal(sum.body.captures.captures, 2);
      },
    );
    await withModelServer(
      { diagnostics: true, diagnostics_dir: dir, diagnostics_min_free_bytes: 2 ** 52 },
      async ({ server }) => {
        const port = server.diagnosticsPort!;
        const r = await call(port, 'POST', '/diagnostics/heap-snapshot', { host: `127.0.0.1:${port}` });
        assert.equal(r.status, 429);
        assert.match(r.body.error, /not enough free disk for a capture/);
      },
    );
  });
});
