/**
 * The GC-settled heap read through an inspector: a forced full GC, then the old generation's
 * used bytes, in the samples as `heapSettledBytes` — what the program keeps, without the
 * young garbage it makes between the GC and the read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Sample } from '../../common/run-format.js';
import { InspectorClient } from '../../scenarios/inspector-client.js';
import { inspectorSource, Sampler } from '../../scenarios/samplers.js';
import { startInspected } from '../helpers/inspected-program.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const PROGRAM = `
const http = require('node:http');
http.createServer((req, res) => res.end('ok')).listen(0, '127.0.0.1', function () {
  console.log(JSON.stringify({ port: this.address().port }));
});
`;

test('a settled sample carries the old generation after a forced GC: what the target keeps shows, its young garbage does not', async () => {
  await withTmpDir('leakscope-settled-', async (dir) => {
    const script = join(dir, 'server.cjs');
    await writeFile(script, PROGRAM);
    const prog = await startInspected(script);
    const c = await InspectorClient.connect(prog.inspect);
    try {
      const samples: Sample[] = [];
      const sampler = new Sampler({
        sources: [inspectorSource(c)],
        intervalMs: 1000,
        gcSettledEvery: 2,
        now: () => 0,
        phase: () => 'steady',
        requests: () => 0,
        onSample: (s) => samples.push(s),
      });
      await sampler.sampleOnce();
      await sampler.sampleOnce();
      assert.equal(samples[0]!.gcSettled, true);
      assert.equal(typeof samples[0]!.heapSettledBytes, 'number');
      assert.ok(samples[0]!.heapSettledBytes! <= samples[0]!.heapUsedBytes!, JSON.stringify(samples[0]));
      assert.equal(samples[1]!.heapSettledBytes, undefined, 'only settled samples carry it');

      // ~4 MB kept by the program is in the settled heap; 8 MB of young garbage is not.
      const evaluate = (expression: string) => c.send('Runtime.evaluate', { expression, returnByValue: true });
      await evaluate('globalThis.kept = Array.from({ length: 100000 }, (_, i) => ({ i, s: "k" + i })); 0');
      const kept = await c.settledHeap();
      await evaluate('globalThis.kept = null; 0');
      const freed = await c.settledHeap();
      assert.ok(kept! - freed! > 3e6, `kept ${kept}, after freeing ${freed}`);
      // Garbage made after the GC: heapUsed counts it, the old generation does not.
      const r = await evaluate(
        '(() => { let g; for (let i = 0; i < 200000; i++) g = { i, s: "g" + i }; return process.memoryUsage().heapUsed; })()',
      );
      const heapUsed = (r.result as { value: number }).value;
      const young = await c.send('Runtime.evaluate', {
        expression:
          "require('v8').getHeapSpaceStatistics().filter((s) => s.space_name.startsWith('new_')).reduce((a, s) => a + s.space_used_size, 0)",
        includeCommandLineAPI: true,
        returnByValue: true,
      });
      assert.ok((young.result as { value: number }).value > 0, 'the garbage is young');
      assert.ok(heapUsed > freed!, `heapUsed ${heapUsed} counts garbage the settled read ${freed} leaves out`);
    } finally {
      c.close();
      await prog.kill();
    }
  });
});
