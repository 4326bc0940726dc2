/**
 * bench:sampling — what V8's allocation sampling (on by default in `leakscope run` for
 * --inspect targets and spawned servers) costs the target.
 *
 * A small Node HTTP service under --inspect (per request: parse a JSON body, build a
 * response, keep a cache entry — a few KB allocated, ~300 B kept) takes the same
 * closed-loop load (C callers on loopback, N requests) in alternating rounds with
 * sampling off and on (HeapProfiler.startSampling at 32 KB, as the runner uses). Printed:
 * per mode the median throughput, p50 and p99 latency and the target's CPU per request
 * (process.cpuUsage() read through the inspector), the ratios on / off, and the
 * throughput ratio of each round (how much the rounds themselves vary). Measured side by side in one run;
 * on a shared machine quote the ratios, not the absolute figures.
 */
import { readFileSync } from 'node:fs';
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

/** One round: throughput and the p50 / p99 of the requests' latencies (ms). */
async function load(port: number): Promise<{ rps: number; p50: number; p99: number }> {
  const body = JSON.stringify({ id: 'x', features: Array.from({ length: 64 }, (_, i) => i) });
  let next = 0;
  const ms: number[] = [];
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < REQUESTS) {
        next++;
        const s = performance.now();
        const r = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body });
        await r.arrayBuffer();
        ms.push(performance.now() - s);
      }
    }),
  );
  const rps = REQUESTS / ((performance.now() - t0) / 1000);
  ms.sort((a, b) => a - b);
  const at = (q: number): number => ms[Math.min(ms.length - 1, Math.floor(q * ms.length))]!;
  return { rps, p50: at(0.5), p99: at(0.99) };
}

async function targetCpuUs(c: InspectorClient): Promise<number> {
  const r = await c.send('Runtime.evaluate', {
    expression: '(() => { const u = process.cpuUsage(); return u.user + u.system; })()',
    returnByValue: true,
  });
  return Number((r.result as { value?: unknown }).value);
}

/**
 * CPU time (µs) of the target's main thread alone, from /proc (utime + stime in clock
 * ticks of 10 ms): where the sampler's work lands (allocation observer, stack walks),
 * without the GC helper and inspector threads that process.cpuUsage() adds.
 */
function mainThreadCpuUs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10_000;
}

await withTmpDir('leakscope-sampling-bench-', async (dir) => {
  const script = join(dir, 'service.cjs');
  await writeFile(script, SERVICE);
  const prog = await startInspected(script);
  const c = await InspectorClient.connect(prog.inspect);
  try {
    await load(prog.port); // warm-up: JIT, sockets
    type Row = { rps: number[]; cpu: number[]; main: number[]; p50: number[]; p99: number[] };
    const rows: Record<'off' | 'on', Row> = {
      off: { rps: [], cpu: [], main: [], p50: [], p99: [] },
      on: { rps: [], cpu: [], main: [], p50: [], p99: [] },
    };
    const pid = prog.child.pid!;
    for (let round = 0; round < ROUNDS; round++) {
      for (const mode of round % 2 === 0 ? (['off', 'on'] as const) : (['on', 'off'] as const)) {
        if (mode === 'on') await c.startSampling();
        const cpu0 = await targetCpuUs(c);
        const main0 = mainThreadCpuUs(pid);
        const r = await load(prog.port);
        const main1 = mainThreadCpuUs(pid);
        const cpu1 = await targetCpuUs(c);
        if (mode === 'on') await c.stopSampling();
        rows[mode].rps.push(r.rps);
        rows[mode].p50.push(r.p50);
        rows[mode].p99.push(r.p99);
        rows[mode].cpu.push((cpu1 - cpu0) / REQUESTS);
        rows[mode].main.push((main1 - main0) / REQUESTS);
      }
    }
    const summary = (m: 'off' | 'on') => ({
      rps: median(rows[m].rps),
      cpu: median(rows[m].cpu),
      main: median(rows[m].main),
      p50: median(rows[m].p50),
      p99: median(rows[m].p99),
    });
    const off = summary('off');
    const on = summary('on');
    const load0 = loadavg()[0]!.toFixed(2);
    console.log(
      `bench:sampling — ${ROUNDS} rounds per mode, ${REQUESTS} requests each, ${CONCURRENCY} callers; ${cpus().length} CPUs, load ${load0}`,
    );
    console.log(
      'mode   req/s   p50 ms   p99 ms   target CPU µs/request   main thread µs/request   (medians over rounds)',
    );
    for (const [name, m] of [
      ['off', off],
      ['on', on],
    ] as const)
      console.log(
        `${name.padEnd(4)} ${m.rps.toFixed(0).padStart(7)} ${m.p50.toFixed(2).padStart(8)} ${m.p99.toFixed(2).padStart(8)}   ${m.cpu.toFixed(1).padStart(10)}   ${m.main.toFixed(1).padStart(18)}`,
      );
    console.log(
      `on / off: throughput ×${(on.rps / off.rps).toFixed(3)}, p50 latency ×${(on.p50 / off.p50).toFixed(3)}, p99 latency ×${(on.p99 / off.p99).toFixed(3)}, target CPU per request ×${(on.cpu / off.cpu).toFixed(3)}, main thread ×${(on.main / off.main).toFixed(3)}`,
    );
    // Each round runs off and on back to back, so a pair shares the machine's load: the
    // median of the per-round ratios is steadier than the ratio of the medians when the
    // load drifts.
    const paired = (k: keyof Row): number[] => rows.on[k].map((x, r) => x / rows.off[k][r]!);
    console.log(
      `median of per-round ratios on / off: throughput ×${median(paired('rps')).toFixed(3)}, p50 ×${median(paired('p50')).toFixed(3)}, p99 ×${median(paired('p99')).toFixed(3)}, target CPU per request ×${median(paired('cpu')).toFixed(3)}, main thread ×${median(paired('main')).toFixed(3)}`,
    );
    console.log(
      `per-round main-thread ratios: ${paired('main')
        .map((x) => x.toFixed(3))
        .join(' ')}`,
    );
    console.log(
      `per-round throughput ratios: ${paired('rps')
        .map((x) => x.toFixed(3))
        .join(' ')}`,
    );
    console.log(
      `per-round CPU-per-request ratios: ${paired('cpu')
        .map((x) => x.toFixed(3))
        .join(' ')}`,
    );
  } finally {
    c.close();
    await prog.kill();
  }
});
