/**
 * `leakscope fleet` against a real Prometheus (Debian's package, started as a plain process
 * on a free loopback port) holding a backfilled synthetic fleet: leaky instances LEAK,
 * patched ones STABLE, restarts and counter resets split segments, OOM kills are reported,
 * canary leaky-vs-patched fails and patched-vs-patched passes, paging gives the same data
 * as one query, and bad input exits 2 with a message naming what was wrong.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import type { FleetResult } from '../../common/fleet-format.js';
import { analyzeFleet } from '../../fleet/analyze-fleet.js';
import { PrometheusClient } from '../../fleet/prometheus-api.js';
import {
  backfill,
  freeLoopbackPort,
  type PrometheusServer,
  prometheusMissing,
  startPrometheus,
} from '../../pipeline/prometheus-server.js';
import { captureIo } from '../helpers/capture-io.js';
import { type SyntheticInstance, writeSyntheticFleet } from '../helpers/synthetic-fleet.js';

const skip = prometheusMissing() ?? false;
// A fixed end on a whole hour two hours ago keeps the data inside Prometheus' retention and
// out of its head block, and the test independent of the clock.
const END = Math.floor(Date.now() / 3_600_000) * 3600 - 2 * 3600;
const RANGE = 2 * 3600;
const LIMIT = 400 * 2 ** 20;

export const FLEET: readonly SyntheticInstance[] = [
  { instance: 'leaky-1', labels: { track: 'leaky' }, leakBytesPerRequest: 600, cacheEntriesPerRequest: 0.5, seed: 1 },
  { instance: 'leaky-2', labels: { track: 'leaky' }, leakBytesPerRequest: 600, cacheEntriesPerRequest: 0.5, seed: 2 },
  { instance: 'patched-1', labels: { track: 'patched' }, seed: 3 },
  { instance: 'patched-2', labels: { track: 'patched' }, seed: 4 },
  { instance: 'patched-3', labels: { track: 'patched-b' }, seed: 5 },
  { instance: 'patched-4', labels: { track: 'patched-b' }, seed: 6 },
  { instance: 'restart-1', labels: { track: 'other' }, restartsAt: [0.4, 0.7], seed: 7 },
  { instance: 'oom-1', labels: { track: 'other' }, leakBytesPerRequest: 3000, limitBytes: LIMIT, seed: 8 },
];

let dir = '';
let prom: PrometheusServer | undefined;

before(async () => {
  if (skip) return;
  dir = await mkdtemp(join(tmpdir(), 'leakscope-fleet-'));
  await writeSyntheticFleet(join(dir, 'fleet.om'), FLEET, {
    job: 'serving',
    startSec: END - RANGE,
    endSec: END,
    stepSec: 15,
  });
  await backfill(join(dir, 'fleet.om'), join(dir, 'data'));
  prom = await startPrometheus({ dataDir: join(dir, 'data') });
});

after(async () => {
  await prom?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const base = () => ({ prometheus: prom!.url, range: '2h', end: String(END) });
const byName = (r: FleetResult) => new Map(r.instances.map((i) => [i.instance, i]));

test('leaky instances LEAK, patched STABLE; restarts split segments; OOM kills reported', { skip }, async () => {
  const r = await analyzeFleet({ ...base(), selector: '{job="serving"}' });
  const m = byName(r);
  assert.equal(r.counts.instances, FLEET.length);
  for (const name of ['leaky-1', 'leaky-2']) {
    const i = m.get(name)!;
    assert.equal(i.verdict, 'LEAK', `${name}: ${i.headline}`);
    assert.equal(i.pass, false);
    assert.ok(i.series.find((s) => s.key === 'cacheEntries')?.verdict === 'LEAK');
    const perReq = i.series.find((s) => s.key === 'rssBytes')!.perRequest!;
    assert.ok(
      perReq.low < 600 && perReq.high > 600,
      `${name}: RSS slope CI ${perReq.low}…${perReq.high} holds 600 B/request`,
    );
  }
  for (const name of ['patched-1', 'patched-2', 'patched-3', 'patched-4']) {
    const i = m.get(name)!;
    assert.equal(i.verdict, 'STABLE', `${name}: ${i.headline}`);
    assert.equal(i.pass, true);
    assert.equal(i.restarts, 0);
  }
  const restart = m.get('restart-1')!;
  assert.equal(restart.restarts, 2);
  assert.equal(restart.segments.length, 3);
  assert.equal(restart.oomKills, 0);
  // Its shortest segment (36 min of an 18 MB GC sawtooth after a warm-up) proves neither a
  // leak nor negligible growth of the heap: GROWING says how much longer would decide it.
  assert.ok(restart.verdict === 'STABLE' || restart.verdict === 'GROWING', restart.headline);
  assert.equal(restart.pass, true, restart.headline);
  const oom = m.get('oom-1')!;
  assert.ok(oom.restarts >= 2, `oom-1 restarted ${oom.restarts} times`);
  assert.equal(oom.oomKills, oom.restarts, 'every restart of oom-1 came at its memory limit');
  assert.equal(oom.verdict, 'LEAK');
  assert.equal(oom.projection.limitBytes, LIMIT, 'limit read from container_spec_memory_limit_bytes');
  assert.ok(oom.projection.hoursToLimit !== null && oom.projection.hoursToLimit < 1);
  assert.equal(r.counts.LEAK, 3);
  assert.equal(r.counts.oomKills, oom.oomKills);
  assert.equal(r.pass, false);
  assert.deepEqual(
    r.instances.slice(0, 3).map((i) => i.verdict),
    ['LEAK', 'LEAK', 'LEAK'],
    'worst first',
  );
  assert.ok(r.query.concurrency <= 4 && r.query.requests > 0);
});

test('canary: leaky vs patched fails, patched vs patched passes', { skip }, async () => {
  const bad = await analyzeFleet({ ...base(), canary: '{track="leaky"}', baseline: '{track="patched"}' });
  assert.equal(bad.canary!.pass, false, bad.canary!.headline);
  assert.equal(bad.pass, false);
  const cache = bad.canary!.comparisons.find((c) => c.key === 'cacheEntries')!;
  assert.equal(cache.pass, false);
  assert.ok(cache.test.pValue < 0.001 && cache.canarySlopes.length >= 10, cache.reason);
  assert.ok(bad.canary!.comparisons.find((c) => c.key === 'rssBytes')!.test.shift > 300);
  const good = await analyzeFleet({ ...base(), canary: '{track="patched-b"}', baseline: '{track="patched"}' });
  assert.equal(good.canary!.pass, true, good.canary!.headline);
  assert.ok(good.canary!.comparisons.length >= 3);
  assert.equal(good.pass, true);
  assert.deepEqual(good.canary!.canaryInstances, ['patched-3', 'patched-4']);
});

test('range queries paged by time give the same points as one query', { skip }, async () => {
  const collect = async (maxPointsPerQuery: number) => {
    const c = new PrometheusClient({ url: prom!.url, maxPointsPerQuery, concurrency: 2 });
    const seen: string[] = [];
    await c.queryRange(
      'process_resident_memory_bytes{instance="patched-1"}',
      (END - RANGE) * 1000,
      END * 1000,
      15_000,
      (_l, values) => {
        for (const [t, v] of values) seen.push(`${t}=${v}`);
      },
    );
    return { seen: seen.sort(), requests: c.requests, peak: c.peakConcurrency };
  };
  const one = await collect(10_000);
  const paged = await collect(100);
  // A 100-point probe, then the other 381 points in one page, or in pages of 100.
  assert.equal(one.requests, 2);
  assert.equal(paged.requests, 1 + Math.ceil(381 / 100));
  assert.ok(paged.peak <= 2);
  assert.equal(one.seen.length, 481);
  assert.deepEqual(paged.seen, one.seen);
  // The answer-size bound: 8 series in the probe → pages of 400 / 8 = 50 points.
  const c = new PrometheusClient({ url: prom!.url, maxPointsPerResponse: 400 });
  let points = 0;
  await c.queryRange(
    'process_resident_memory_bytes{job="serving"}',
    (END - RANGE) * 1000,
    END * 1000,
    15_000,
    (_l, v) => {
      points += v.length;
    },
  );
  assert.equal(c.requests, 1 + Math.ceil(381 / 50));
  assert.equal(points, 8 * 481);
});

test('fleet CLI: summary, JSON and JUnit; exit 1 on a leaking fleet, 0 on a healthy canary', { skip }, async () => {
  const c = captureIo();
  const junit = join(dir, 'fleet.xml');
  const args = ['fleet', '--prometheus', prom!.url, '--range', '2h', '--end', String(END)];
  assert.equal(await main([...args, '--selector', '{job="serving"}', '--junit', junit], c.io), 1, c.err());
  assert.match(c.out(), /leakscope fleet: FAIL/);
  assert.match(c.out(), /LEAK 3 · GROWING \d · STABLE \d/);
  assert.match(c.out(), /oom-1.*\n.*OOM kill/);
  const xml = await readFile(junit, 'utf8');
  assert.match(xml, /<testcase name="leaky-1" classname="leakscope.fleet.instance" time="0">\n\s*<failure/);
  const ok = captureIo();
  const code = await main(
    [...args, '--canary', '{track="patched-b"}', '--baseline', '{track="patched"}', '--json'],
    ok.io,
  );
  assert.equal(code, 0, ok.err());
  const parsed = JSON.parse(ok.out()) as FleetResult;
  assert.equal(parsed.canary?.pass, true);
});

test('bad input exits 2 naming what was wrong', { skip }, async () => {
  const closed = await freeLoopbackPort();
  const cases: [string[], RegExp][] = [
    [
      ['--prometheus', `http://127.0.0.1:${closed}`, '--selector', '{job="serving"}', '--range', '2h'],
      /cannot reach Prometheus at http:\/\/127\.0\.0\.1:\d+ \(ECONNREFUSED\)/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job="nothing"}', '--range', '2h', '--end', String(END)],
      /--selector \{job="nothing"\} matched no series/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job="serving"}', '--range', '2hours'],
      /--range: '2hours' is not a duration/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job="serving"}', '--range', '1m'],
      /gives 5 point\(s\) per series; the statistics need at least 10/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', 'job="serving"', '--range', '2h'],
      /--selector: 'job="serving"' is not a selector in braces/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job=~"("}', '--range', '2h'],
      /refused the query \(HTTP 400, bad_data/,
    ],
    [
      ['--prometheus', 'ftp://x', '--selector', '{job="serving"}', '--range', '2h'],
      /--prometheus: 'ftp:\/\/x' must be an http/,
    ],
    [
      ['--prometheus', prom!.url, '--canary', '{track="leaky"}', '--range', '2h'],
      /--canary and --baseline go together/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job="serving"}', '--range', '2h', '--end', 'yesterday'],
      /--end: 'yesterday' is not a time/,
    ],
    [
      ['--prometheus', prom!.url, '--selector', '{job="serving"}', '--range', '2h', '--limit', '4 parsecs'],
      /--limit: '4 parsecs' is not a memory size/,
    ],
  ];
  for (const [args, message] of cases) {
    const c = captureIo();
    assert.equal(await main(['fleet', ...args], c.io), 2, `${args.join(' ')}: ${c.err()}`);
    assert.match(c.err(), message);
    assert.doesNotMatch(c.err(), /\n\s+at /, 'no stack trace');
  }
});
