import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { findLeaks } from '../../analyzer/heap/leaks.js';
import { readRun } from '../../analyzer/run-reader.js';
import { runScenario } from '../../scenarios/runner.js';
import { startInspected } from '../helpers/inspected-program.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/** A user's own Node server, with a leak of its own: every request's record is kept forever. */
const LEAKY_SERVER = `
const http = require('node:http');
class RequestRecord { constructor(n, body) { this.n = n; this.body = body; this.at = Date.now(); } }
const history = { records: [] };
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    history.records.push(new RequestRecord(history.records.length, 'payload:' + body + ':' + 'x'.repeat(100 + (history.records.length % 7))));
    res.end('ok');
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
`;

test('a Node server started with --inspect is sampled and snapshotted through the inspector, and its leak is named', async () => {
  await withTmpDir('leakscope-inspect-', async (dir) => {
    const script = join(dir, 'server.cjs');
    await writeFile(script, LEAKY_SERVER);
    const prog = await startInspected(script);
    const { child, port, inspect: inspectAddr } = prog;
    try {
      const file = join(dir, 'http-leak.yaml');
      await writeFile(
        file,
        [
          'name: http-leak',
          'sampleIntervalMs: 100',
          'phases:',
          '  - { name: warmup, requests: 50, rate: 100, maxInflight: 1000, transport: http, http: { method: POST, path: /track, body: "w{{i}}" }, snapshot: baseline }',
          '  - { name: load, requests: 300, rate: 200, maxInflight: 1000, transport: http, steady: true, http: { method: POST, path: /track, body: "n{{i}}" }, snapshot: target }',
          '  - { name: more, requests: 300, rate: 200, maxInflight: 1000, transport: http, steady: true, http: { method: POST, path: /track, body: "m{{i}}" }, snapshot: final }',
        ].join('\n'),
      );
      const out = await runScenario({
        scenario: file,
        target: { kind: 'external', http: `http://127.0.0.1:${port}`, inspect: inspectAddr },
        out: join(dir, 'run'),
      });
      assert.equal(out.manifest.status, 'complete', out.manifest.error);
      const run = readRun(out.dir);
      assert.equal(run.manifest.target.kind, 'external');
      assert.equal(
        run.manifest.target.kind === 'external' && run.manifest.target.pid,
        child.pid,
        'the pid came from the inspector',
      );
      const s = run.samples.at(-1)!;
      assert.equal(typeof s.heapUsedBytes, 'number');
      assert.equal(typeof s.rssBytes, 'number');
      // process.memoryUsage() read inside the target: the off-heap kinds too.
      assert.equal(typeof s.externalBytes, 'number');
      assert.equal(typeof s.arrayBuffersBytes, 'number');
      assert.ok(s.externalBytes! >= s.arrayBuffersBytes!, 'external includes ArrayBuffer memory');
      // HTTP phases are open-model: a bound of 1000 in flight keeps a loaded machine's stalls
      // from dropping any of the 650 requests the leak is counted by.
      assert.equal(
        run.results.phases.reduce((a, p) => a + (p.statusCounts['200'] ?? 0), 0),
        650,
        JSON.stringify(run.results.phases.map((p) => [p.name, p.dropped, p.cut, p.statusCounts])),
      );
      assert.deepEqual(
        run.manifest.snapshots.map((x) => x.label),
        ['baseline', 'target', 'final'],
      );
      const [b, t, f] = run.manifest.snapshots.map((x) => join(out.dir, x.file));
      const leaks = await findLeaks(b!, t!, f!, { top: 3 });
      const top = leaks.groups[0]!;
      assert.ok(/RequestRecord|string/.test(top.className), `top class ${top.className}`);
      assert.match(top.heldBy + top.path, /records/, `held by ${top.heldBy}; path ${top.path}`);
      assert.ok(
        leaks.byClass.some((c) => c.className === 'RequestRecord' && c.count >= 250),
        JSON.stringify(leaks.byClass.slice(0, 5)),
      );
    } finally {
      await prog.kill();
    }
  });
});
