/**
 * bench:sampling — what V8's allocation sampling (on by default in `leakscope run` for
 * --inspect targets and spawned servers) costs the target.
 *
 * A small Node HTTP service under --inspect (per request: parse a JSON body, build a
 * response, keep a cache entry — a few KB allocated, ~300 B kept) takes the same
 * closed-loop load (C callers on loopback, N requests) in alternating rounds with
 * sampling off and on (HeapProfiler.startSampling at 32 KB, as the runner uses). Printed:
 * per mode the median throughput and the target's CPU per request (process.cpuUsage()
 * read through the inspector), and the ratios on / off. Measured side by side in one run;
 * on a shared machine quote the ratios, not the absolute figures.
 */
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { median as medianOrNull } from '../../analyzer/series/median.js';
import { InspectorClient } from '../../scenarios/inspector-client.js';
import { startInspected } from '../helpers/inspected-program.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const REQUESTS = Number(process.env['REQUESTS'] ?? 4000);
const CONCURRENCY = Number(process.env['CONCURRENCY'] ?? 8);
const ROUNDS = Number(process.env['ROUNDS'] ?? 4);

const SERVICE = `const http = require('node:http');
const cache = new Map();
function remember(n, item) { cache.set('k' + n, { n, id: item.id, at: Date.now() }); }
let n = 0;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const item = JSON.parse(body);
    remember(n++, item);
    const out = { id: item.id, scores: item.features.map((f) => f * 0.5), served: n };
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(out));
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
`;

const median = (xs: number[]): number => medianOrNull(xs) ?? Number.NaN;

async function load(port: number): Promise<number> {
  const body = JSON.stringify({ id: 'x', features: Array.from({ length: 64 }, (_, i) => i) });
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
        await r.arrayBuffer();
      }
    }),
  );
  return REQUESTS / ((performance.now() - t0) / 1000);
}

async function targetCpuUs(c: InspectorClient): Promise<number> {
  const r = await c.send('Runtime.evaluate', {
    expression: '(() => { const u = process.cpuUsage(); return u.user + u.system; })()',
    returnByValue: true,
  });
  return Number((r.result as { value?: unknown }).value);
}

await withTmpDir('leakscope-sampling-bench-', async (dir) => {
  const script = join(dir, 'service.cjs');
  await writeFile(script, SERVICE);
  const prog = await startInspected(script);
  const c = await InspectorClient.connect(prog.inspect);
  try {
    await load(prog.port); // warm-up: JIT, sockets
    const rows: Record<'off' | 'on', { rps: number[]; cpu: number[] }> = {
      off: { rps: [], cpu: [] },
      on: { rps: [], cpu: [] },
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        if (mode === 'on') await c.startSampling();
        const cpu0 = await targetCpuUs(c);
        const rps = await load(prog.port);
        const cpu1 = await targetCpuUs(c);
        if (mode === 'on') await c.stopSampling();
        rows[mode].rps.push(rps);
        rows[mode].cpu.push((cpu1 - cpu0) / REQUESTS);
      }
    }
    const off = { rps: median(rows.off.rps), cpu: median(rows.off.cpu) };
    const on = { rps: median(rows.on.rps), cpu: median(rows.on.cpu) };
    console.log(
      `bench:sampling — ${ROUNDS} rounds per mode, ${REQUESTS} requests each, ${CONCURRENCY} callers; ${cpus().length} CPUs, load ${loadavg()[0]!.toFixed(2)}`,
    );
    console.log('mode   req/s (median)   target CPU µs/request (median)');
    console.log(`off    ${off.rps.toFixed(0).padStart(14)}   ${off.cpu.toFixed(1).padStart(10)}`);
    console.log(`on     ${on.rps.toFixed(0).padStart(14)}   ${on.cpu.toFixed(1).padStart(10)}`);
    console.log(
      `on / off: throughput ×${(on.rps / off.rps).toFixed(3)}, target CPU per request ×${(on.cpu / off.cpu).toFixed(3)}`,
    );
  } finally {
    c.close();
    await prog.kill();
  }
});
