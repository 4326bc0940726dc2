import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { basename, dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DiagnosticsClient } from '../../common/diagnostics-api.js';
import { sanitizeLabel } from '../../server/diagnostics.js';
import { executorKey } from '../../server/session.js';
import { FEATURES, restPredict, withSpikeServer } from '../helpers/spike.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

async function call(port: number, method: string, path: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method });
  return { status: r.status, body: await r.json() };
}

/** Parses a .heapsnapshot and checks its shape: meta, node and string tables. */
async function readSnapshot(file: string): Promise<{ strings: string[]; nodeCount: number }> {
  const snap = JSON.parse(await readFile(file, 'utf8'));
  const meta = snap.snapshot.meta;
  assert.ok(
    Array.isArray(meta.node_fields) && meta.node_fields.includes('name') && meta.node_fields.includes('self_size'),
  );
  assert.ok(Array.isArray(meta.node_types[0]) && meta.node_types[0].includes('string'));
  assert.equal(snap.nodes.length, snap.snapshot.node_count * meta.node_fields.length);
  assert.equal(snap.edges.length, snap.snapshot.edge_count * meta.edge_fields.length);
  assert.ok(Array.isArray(snap.strings) && snap.strings.length > 100);
  return { strings: snap.strings, nodeCount: snap.snapshot.node_count };
}

const names = FEATURES.map((f) => f.name);
/** Input orders that all begin "item_id,user_age,": the rest rotated. */
const orders = Array.from({ length: 4 }, (_, k) => {
  const rest = names.slice(2);
  return ['item_id', 'user_age', ...rest.slice(k), ...rest.slice(0, k)];
});

describe('diagnostics interface', () => {
  it('is off unless asked for', async () => {
    await withSpikeServer({ mode: 'leaky' }, async (s) => {
      assert.equal(s.diagnosticsPort, undefined);
    });
  });

  it('summary, heap snapshots holding the executor-cache keys (leaky), thread snapshot, allocation sampling, no path escape', async () => {
    await withTmpDir('leakscope-diag-', async (tmp) => {
      const dir = join(tmp, 'snaps');
      await withSpikeServer(
        { mode: 'leaky', diagnostics: true, diagnostics_dir: dir, host: '127.0.0.1' },
        async (s) => {
          const port = s.diagnosticsPort!;
          assert.ok(port > 0 && port !== s.restPort && port !== s.grpcPort);
          for (const o of orders) assert.equal((await restPredict(s, o)).status, 200);

          const sum = (await call(port, 'GET', '/diagnostics/summary')).body;
          assert.equal(sum.pid, process.pid);
          assert.ok(sum.memory.rss > 0 && sum.heap.used_heap_size > 0);
          assert.ok(sum.proc.threads >= 2 && Object.keys(sum.proc.threadsByName).length >= 1 && sum.proc.openFds > 0);
          assert.equal(sum.executorCache.length, 1);
          // Leaky: each new order inserts its key (the first order a miss inserts two: unsorted and sorted).
          assert.equal(sum.executorCache[0].entries, orders.length + 1);
          assert.equal(sum.executorCache[0].counters.lookups, orders.length);
          assert.equal(sum.handlerThreads.cap, null);
          assert.ok(
            sum.handlerThreads.current >= 1 && sum.handlerThreads.threads.length === sum.handlerThreads.current,
          );
          assert.equal(sum.inflight, 0);

          const main = await call(port, 'POST', '/diagnostics/heap-snapshot?label=before-gc');
          assert.equal(main.status, 200, JSON.stringify(main.body));
          assert.equal(dirname(main.body.file), dir);
          assert.match(basename(main.body.file), /^main-before-gc-.*\.heapsnapshot$/);
          assert.ok(main.body.bytes > 1000 && typeof main.body.ms === 'number');
          const { strings } = await readSnapshot(main.body.file);
          const keys = new Set(strings.filter((x) => x.endsWith('->prob//0/')));
          for (const o of orders)
            assert.ok(keys.has(executorKey(o, ['prob'])), `snapshot lacks the cache key for ${o.join(',')}`);

          // The typed client (common/diagnostics-api.ts) against the same routes.
          const client = new DiagnosticsClient(`http://127.0.0.1:${port}`);
          const listed = await client.call('threads', {});
          assert.equal(listed.current, listed.threads.length);
          const id = listed.threads[0]!.id;
          const th = await client.call('threadHeapSnapshot', { thread: id });
          assert.equal(th.isolate, 'handler-thread');
          assert.equal(th.thread, id);
          assert.equal(dirname(th.file), dir);
          const thread = await readSnapshot(th.file);
          assert.ok(thread.nodeCount > 1000);
          await assert.rejects(client.call('threadHeapSnapshot', { thread: 999999 }), {
            code: 'LS_ERR_TARGET',
            message: /no handler thread 999999 \(threads now: /,
          });

          assert.equal((await call(port, 'POST', '/diagnostics/allocation-sampling/stop')).status, 409);
          assert.equal((await call(port, 'POST', '/diagnostics/allocation-sampling/start?interval=1024')).status, 200);
          assert.equal(
            (await call(port, 'POST', '/diagnostics/allocation-sampling/start')).status,
            409,
            'already running',
          );
          for (const o of orders) await restPredict(s, o);
          const prof = await call(port, 'POST', '/diagnostics/allocation-sampling/stop?label=spike');
          assert.equal(prof.status, 200, JSON.stringify(prof.body));
          assert.match(basename(prof.body.file), /^allocations-spike-.*\.heapprofile$/);
          const profile = JSON.parse(await readFile(prof.body.file, 'utf8'));
          assert.ok(profile.head && Array.isArray(profile.samples));

          // A request can name no path: labels are reduced to a safe word, path-like parameters are refused.
          for (const label of ['../../escape', '%2Ftmp%2F..%2F..%5C..%5Cescape']) {
            const r = await call(port, 'POST', `/diagnostics/heap-snapshot?label=${label}`);
            assert.equal(r.status, 200);
            assert.equal(dirname(r.body.file), dir);
            assert.ok(!basename(r.body.file).includes('..'));
          }
          for (const q of ['path=/tmp/x.heapsnapshot', 'file=../x', 'dir=/tmp']) {
            const r = await call(port, 'POST', `/diagnostics/heap-snapshot?${q}`);
            assert.equal(r.status, 400);
            assert.match(r.body.error, /unknown parameter/);
          }
          assert.deepEqual(await readdir(tmp), ['snaps'], 'nothing written beside the diagnostics folder');
          const files = await readdir(dir);
          assert.equal(files.length, 2 + 1 + 2, files.join(' '));
          for (const f of files) assert.match(f, /^[A-Za-z0-9_-]+\.(heapsnapshot|heapprofile)$/);

          // Bad requests: a fitting status and {"error"}; the server keeps serving.
          const bad: Array<[string, string, number]> = [
            ['GET', '/diagnostics/nope', 404],
            ['GET', '/elsewhere', 404],
            ['GET', '/diagnostics/heap-snapshot', 405],
            ['POST', '/diagnostics/summary', 405],
            ['POST', '/diagnostics/threads/abc/heap-snapshot', 400],
            ['POST', '/diagnostics/threads/999999/heap-snapshot', 404],
            ['POST', '/diagnostics/allocation-sampling/start?interval=0', 400],
          ];
          for (const [method, path, status] of bad) {
            const r = await call(port, method, path);
            assert.equal(r.status, status, `${method} ${path}: ${JSON.stringify(r.body)}`);
            assert.equal(typeof r.body.error, 'string');
          }
          if (typeof (globalThis as { gc?: unknown }).gc !== 'function') {
            const gc = await call(port, 'POST', '/diagnostics/gc');
            assert.equal(gc.status, 409);
            assert.match(gc.body.error, /--expose-gc/);
          }
          assert.equal((await restPredict(s)).status, 200);
          assert.equal((await call(port, 'GET', '/diagnostics/summary')).status, 200);
        },
      );
    });
  });

  it('forces a GC when node runs with --expose-gc', async () => {
    await withTmpDir('leakscope-diag-gc-', async (tmp) => {
      const serverJs = fileURLToPath(new URL('../../server/server.js', import.meta.url));
      const writeJs = fileURLToPath(new URL('../../wire/models/write-models.js', import.meta.url));
      const script = join(tmp, 'child.mjs');
      await writeFile(
        script,
        `import { startServer } from ${JSON.stringify(serverJs)};
import { writeModelVersions } from ${JSON.stringify(writeJs)};
await writeModelVersions(${JSON.stringify(join(tmp, 'ctr'))}, { features: 3, versions: [1] });
const s = await startServer({ port: 0, rest_api_port: 0, model_name: 'ctr', model_base_path: ${JSON.stringify(join(tmp, 'ctr'))}, log_level: 'silent', diagnostics: true, diagnostics_dir: ${JSON.stringify(join(tmp, 'snaps'))} });
console.log(JSON.stringify({ port: s.diagnosticsPort }));
process.on('SIGTERM', () => s.close().then(() => process.exit(0)));
`,
      );
      const child = spawn(process.execPath, ['--expose-gc', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      try {
        const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
        const { port } = JSON.parse(line) as { port: number };
        const gc = await call(port, 'POST', '/diagnostics/gc');
        assert.equal(gc.status, 200, JSON.stringify(gc.body));
        assert.ok(typeof gc.body.ms === 'number' && gc.body.heapUsedAfter > 0 && gc.body.heapUsedBefore > 0);
        assert.equal((await call(port, 'GET', '/diagnostics/summary')).body.gcExposed, true);
      } finally {
        child.kill('SIGTERM');
        const [code] = await once(child, 'exit');
        assert.equal(code, 0);
      }
    });
  });

  it('reduces labels to a short safe word', () => {
    assert.equal(sanitizeLabel(null), '');
    assert.equal(sanitizeLabel('../../etc/passwd'), 'etc_passwd');
    assert.equal(sanitizeLabel('a b/c\\d.e'), 'a_b_c_d_e');
    assert.equal(sanitizeLabel('x'.repeat(100)).length, 40);
    assert.equal(sanitizeLabel('....'), '');
  });
});
