import assert from 'node:assert/strict';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { runScenario } from '../../scenarios/runner.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('a run gives every request a distinct {{n}} across phases, while {{i}} restarts per phase', async () => {
  const seen: Array<{ i: number; n: number }> = [];
  const server = createServer((req, res) => {
    const u = new URL(req.url!, 'http://x');
    const q = u.searchParams;
    // The runner's reachability check (GET /) is not a scenario request.
    if (u.pathname === '/r') seen.push({ i: Number(q.get('i')), n: Number(q.get('n')) });
    res.end('ok');
  }).listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    await withTmpDir('leakscope-run-index-', async (dir) => {
      const file = join(dir, 'ids.yaml');
      const phase = (name: string) =>
        `  - { name: ${name}, requests: 30, rate: 300, maxInflight: 64, transport: http, http: { method: GET, path: '/r?i={{i}}&n={{n}}' } }`;
      await writeFile(file, ['name: ids', 'sampleIntervalMs: 100', 'phases:', phase('one'), phase('two')].join('\n'));
      const out = await runScenario({
        scenario: file,
        target: { kind: 'external', http: `http://127.0.0.1:${(server.address() as AddressInfo).port}` },
        out: join(dir, 'run'),
        snapshots: false,
      });
      assert.equal(out.manifest.status, 'complete', out.manifest.error);
      const [one, two] = out.results;
      assert.equal(seen.length, one!.sent + two!.sent);
      const ns = seen.map((s) => s.n);
      assert.equal(new Set(ns).size, ns.length, 'no n repeats over the whole run');
      // Phase two's n start after every index phase one's schedule could use.
      const maxOne = Math.max(...seen.filter((s) => s.n < one!.planned).map((s) => s.n));
      const twoNs = ns.filter((n) => n >= one!.planned);
      assert.equal(twoNs.length, two!.sent, "phase two numbered from phase one's planned count");
      assert.ok(maxOne < one!.planned && Math.min(...twoNs) >= one!.planned);
      assert.ok(seen.filter((s) => s.i === 0).length === 2, 'i restarts: request 0 of each phase');
    });
  } finally {
    server.close();
  }
});
