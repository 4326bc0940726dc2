/** Fleet mode's pieces that need no Prometheus: syntax checks, metric table, segments and restarts. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { FleetData, InstanceSeries } from '../../fleet/fetch-fleet.js';
import { fleetMetrics, type FleetMetricKey, metricQuery } from '../../fleet/fleet-metrics.js';
import { PrometheusClient } from '../../fleet/prometheus-api.js';
import { parseBytes, parseDuration, parseTime, selectorMatchers } from '../../fleet/query-syntax.js';
import { instanceTimeline } from '../../fleet/segments.js';

test('durations, times, sizes and selectors in Prometheus syntax', () => {
  assert.equal(parseDuration('1h30m', '--range'), 5_400_000);
  assert.equal(parseDuration('15s', '--step'), 15_000);
  assert.equal(parseDuration('1d', '--range'), 86_400_000);
  for (const bad of ['', '2hours', '30m1h', '0s', '-1h', '1.5h'])
    assert.throws(() => parseDuration(bad, '--range'), /--range: .* is not a duration/);
  assert.equal(parseTime('now', '--end', 1234), 1234);
  assert.equal(parseTime('1796025600', '--end'), 1_796_025_600_000);
  assert.equal(parseTime('2026-11-30T08:00:00Z', '--end'), Date.UTC(2026, 10, 30, 8));
  assert.throws(() => parseTime('30/11/2026', '--end'), /--end: '30\/11\/2026' is not a time/);
  assert.equal(parseBytes('4GiB', '--limit'), 4 * 2 ** 30);
  assert.equal(parseBytes('512 MB', '--limit'), 512e6);
  assert.throws(() => parseBytes('lots', '--limit'), /--limit: 'lots' is not a memory size/);
  assert.deepEqual(selectorMatchers('{job="serving", env!~\'dev|test\'}', '--selector'), [
    'job="serving"',
    "env!~'dev|test'",
  ]);
  assert.deepEqual(selectorMatchers('{}', '--selector'), []);
  assert.deepEqual(selectorMatchers('{a="x,}y"}', '--selector'), ['a="x,}y"']);
  for (const [bad, why] of [
    ['up{job="x"}', /not a selector in braces/],
    ['{job=serving}', /malformed matcher at 'job=serving'/],
    ['{__name__="up"}', /names a metric/],
    ['{a="1" b="2"}', /where a comma belongs/],
  ] as const)
    assert.throws(() => selectorMatchers(bad, '--selector'), why);
});

test('metric table: defaults cover Node and the reference server; overrides are checked', () => {
  const rss = fleetMetrics().find((m) => m.key === 'rssBytes')!;
  assert.deepEqual(rss.names, ['process_resident_memory_bytes']);
  assert.equal(metricQuery(rss, ['job="serving"']), '{__name__=~"process_resident_memory_bytes",job="serving"}');
  const requests = fleetMetrics().find((m) => m.key === 'requests')!;
  assert.equal(
    metricQuery(requests, ['job="serving"']),
    '{__name__=~"leakscope_requests_total|http_requests_total|:tensorflow:serving:request_count",job="serving"}',
  );
  assert.deepEqual(fleetMetrics(['rssBytes=container_memory_rss|a:b']).find((m) => m.key === 'rssBytes')!.names, [
    'container_memory_rss',
    'a:b',
  ]);
  assert.throws(() => fleetMetrics(['rss=foo']), /--metric: 'rss=foo' must be KEY=NAME with KEY one of rssBytes/);
  assert.throws(() => fleetMetrics(['rssBytes=foo bar']), /'foo bar' is not a Prometheus metric name/);
});

test('pages never exceed the points limit and cover the range exactly once', () => {
  const c = new PrometheusClient({ url: 'http://127.0.0.1:1/', maxPointsPerQuery: 10_000 });
  assert.equal(c.url, 'http://127.0.0.1:1');
  const step = 15_000;
  const pages = c.pages(0, 5759 * step, step);
  assert.equal(pages.length, 1);
  assert.equal(c.pages(0, 5759 * step, step, 400).length, Math.ceil(5760 / 400), 'pages of at most 400 points');
  const day = c.pages(0, 86_400_000 * 3, step);
  let points = 0;
  for (const [s, e] of day) {
    const n = (e - s) / step + 1;
    assert.ok(n <= 10_000);
    points += n;
  }
  assert.equal(points, (86_400_000 * 3) / step + 1);
  assert.throws(() => new PrometheusClient({ url: 'x', concurrency: 0 }), /--prometheus: 'x' is not a URL/);
  assert.throws(() => new PrometheusClient({ url: 'http://a', concurrency: 0 }), /--concurrency: must be/);
  assert.throws(() => new PrometheusClient({ url: 'http://a', maxPointsPerQuery: 11_001 }), /Prometheus' limit/);
});

/** A grid of 100 points at 15 s with the given metrics. */
function data(values: Partial<Record<FleetMetricKey, number[]>>): { d: FleetData; inst: InstanceSeries } {
  const inst: InstanceSeries = {
    instance: 'x',
    values: new Map(Object.entries(values).map(([k, v]) => [k as FleetMetricKey, Float64Array.from(v)])),
  };
  return { d: { startMs: 1_000_000_000, stepMs: 15_000, points: 100, instances: [inst], found: new Set() }, inst };
}

test('a counter reset without a start-time metric starts a segment; requests stay cumulative', () => {
  const req = Array.from({ length: 100 }, (_, i) => (i < 60 ? 1000 + 10 * i : 10 * (i - 60) + 5));
  const rss = Array.from({ length: 100 }, () => 1e8);
  const { d, inst } = data({ requests: req, rssBytes: rss });
  const t = instanceTimeline(d, inst, null, 0);
  assert.deepEqual(
    t.segments.map((s) => [s.from, s.to, s.end]),
    [
      [0, 60, 'restart'],
      [60, 100, 'range-end'],
    ],
  );
  assert.equal(t.requests[59], 590);
  assert.equal(t.requests[60], 595, 'after the reset the counter counted from zero');
  assert.equal(t.requests[99], 595 + 390);
  assert.equal(t.segments[0]!.oomKilled, false, 'no limit, no OOM claim');
});

test('a start-time change is a restart; RSS at the limit before it is an OOM kill; warm-up is skipped', () => {
  const start = Array.from({ length: 100 }, (_, i) => (i < 50 ? 900_000 : 1_000_000_000 / 1000 + 50 * 15));
  const rss = Array.from({ length: 100 }, (_, i) => (i < 50 ? 1e8 + 2e6 * i : 1e8));
  const req = Array.from({ length: 100 }, (_, i) => 100 * i); // no reset seen: scraped too rarely
  const { d, inst } = data({ startTime: start, rssBytes: rss, requests: req });
  const t = instanceTimeline(d, inst, 2e8, 5 * 60_000);
  assert.equal(t.segments.length, 2);
  assert.equal(t.segments[0]!.oomKilled, true, `peak ${t.segments[0]!.peakRssBytes} of a 200 MB limit`);
  assert.equal(t.segments[0]!.settledFrom, 0, 'a process up for hours is settled');
  assert.equal(t.segments[1]!.settledFrom, 70, 'five minutes (20 steps) of warm-up after the restart');
  assert.equal(t.limitBytes, 2e8);
  const lower = instanceTimeline(d, inst, 4e8, 0);
  assert.equal(lower.segments[0]!.oomKilled, false, 'a restart far below the limit is no OOM kill');
});
