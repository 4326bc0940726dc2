import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeriesAnalysis } from '../../common/analysis-format.js';
import {
  judgeSeries,
  overallVerdict,
  reconcileHeapSeries,
  SERIES_SPECS,
  type SeriesSpec,
  toleratedInconclusive,
} from '../../analyzer/verdicts.js';
import { gaussian, gcHeap, series } from '../helpers/analyzer-series.js';

const spec = (key: string): SeriesSpec => SERIES_SPECS.find((s) => s.key === key)!;
const heap = spec('heapUsedBytes');

test('GC-like sawtooth with zero trend is STABLE on every seed', () => {
  for (let seed = 1; seed <= 8; seed++) {
    const a = judgeSeries(heap, gcHeap(400, seed, 0), ['steady']);
    assert.equal(a.verdict, 'STABLE', a.reason);
    assert.ok(a.perRequest!.low <= 0 || a.perRequest!.estimate < heap.minPerRequest, a.reason);
  }
});

test('a slow real leak under sawtooth noise is a LEAK, with the slope inside its interval', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const a = judgeSeries(heap, gcHeap(400, seed, 300), ['steady']);
    assert.equal(a.verdict, 'LEAK', a.reason);
    assert.ok(a.perRequest!.low <= 300 && 300 <= a.perRequest!.high, a.reason);
    assert.match(
      a.reason,
      /^V8 heap used grows \d+ B\/request ±\d+(\.\d)? B \(95% CI\), [\d.]+ KiB\/s, Mann-Kendall p<0\.001/,
    );
    assert.ok(a.trend!.pValue < 0.001 && a.relativeGrowth! > 0.1);
  }
});

test('a real trend between the negligible margin and the leak threshold is GROWING', () => {
  const a = judgeSeries(heap, gcHeap(1200, 3, 100), ['steady']);
  assert.equal(a.verdict, 'GROWING', a.reason);
  assert.match(a.reason, /between negligible and the leak threshold/);
});

test('a leak too short to clear the relative threshold is not yet a LEAK', () => {
  const a = judgeSeries(heap, gcHeap(150, 2, 300), ['steady']);
  assert.notEqual(a.verdict, 'LEAK', a.reason);
});

test('one step change is not a leak', () => {
  for (let seed = 1; seed <= 4; seed++) {
    const g = gaussian(seed);
    const a = judgeSeries(
      heap,
      series(400, (i) => 40e6 + (i < 200 ? 0 : 8e6) + 3e5 * g()),
      ['steady'],
    );
    assert.notEqual(a.verdict, 'LEAK', a.reason);
  }
});

test('a staircase (a step every few hundred requests, the cache-fill shape) is a LEAK', () => {
  const a = judgeSeries(
    spec('cacheEntries'),
    series(300, (i) => 2 + 40 * Math.floor(i / 10)),
    ['steady'],
  );
  assert.equal(a.verdict, 'LEAK', a.reason);
  assert.match(a.reason, /^executor-cache entries grow /);
});

test('too few samples or requests is INSUFFICIENT_DATA', () => {
  const few = judgeSeries(heap, gcHeap(6, 1, 300), ['steady']);
  assert.equal(few.verdict, 'INSUFFICIENT_DATA');
  assert.match(few.reason, /only 6 sample\(s\)/);
  const idle = judgeSeries(
    heap,
    gcHeap(50, 1, 300).map((p) => ({ ...p, requests: 7 })),
    ['steady'],
  );
  assert.equal(idle.verdict, 'INSUFFICIENT_DATA');
  assert.match(idle.reason, /request\(s\) completed/);
  assert.doesNotThrow(() => JSON.stringify(few));
});

test('thresholds can be overridden per series', () => {
  const pts = gcHeap(1200, 3, 40);
  assert.equal(
    judgeSeries(heap, pts, ['steady'], {
      thresholds: {
        heapUsedBytes: { minPerRequest: 10, minPerSecond: 1000, minRelativeGrowth: 0.01, negligiblePerRequest: 5 },
      },
    }).verdict,
    'LEAK',
  );
});

test('unsettled heap growth is not a leak when the GC-settled heap is stable', () => {
  const unsettled = judgeSeries(heap, gcHeap(400, 1, 300), ['steady']);
  const settled = judgeSeries(
    spec('heapUsedSettledBytes'),
    series(50, () => 40e6),
    ['steady'],
  );
  const [u, s] = reconcileHeapSeries([unsettled, settled]);
  assert.equal(s!.verdict, 'STABLE');
  assert.equal(u!.verdict, 'GROWING');
  assert.match(u!.reason, /GC-settled heap is stable/);
});

test('overall verdict: LEAK names the series and the culprit; STABLE and INSUFFICIENT_DATA say so', () => {
  // What is tested is how the headline is composed, not the defaults: RSS' per-second minimum
  // is set to where this series' rate clears it.
  const leak = judgeSeries(spec('rssBytes'), gcHeap(400, 1, 6000, 150e6, 4e6), ['steady'], {
    thresholds: { rssBytes: { minPerSecond: 2 ** 20 } },
  });
  const flat = judgeSeries(
    spec('openFds'),
    series(100, () => 24),
    ['steady'],
  );
  const culprit = {
    className: '(string)',
    heldBy: 'SessionCache.executors[]',
    path: '(GC roots) → …',
    retainedSize: 9e6,
    count: 30000,
    growthShare: 0.96,
    growthBasis: 'x',
  };
  const o = overallVerdict([leak, flat], null, culprit);
  assert.equal(o.verdict, 'LEAK');
  assert.deepEqual(o.leaking, ['rssBytes']);
  assert.match(o.headline, /^Leak: RSS grows 5\.\d+ KiB\/request ±\d+ B \(95% CI\)/);
  assert.match(o.headline, /SessionCache\.executors\[\] retains .* \(96% of the heap growth\)/);
  const ok = overallVerdict([flat], null, null);
  assert.equal(ok.verdict, 'STABLE');
  assert.match(ok.headline, /^No leak: open fds are stable/);
  const none = overallVerdict([judgeSeries(heap, [], ['steady']) as SeriesAnalysis], null, null);
  assert.equal(none.verdict, 'INSUFFICIENT_DATA');
});

// ---- equivalence, capture steps, last window (docs/verdicts.md) ----

/** n samples every 250 ms at `rps` requests/s; a capture before samples `cuts` adds `step` bytes. */
function withCaptures(
  n: number,
  rps: number,
  cuts: readonly number[],
  value: (i: number, requests: number) => number,
  step: number,
) {
  return Array.from({ length: n }, (_, i) => {
    const segment = cuts.filter((c) => i >= c).length;
    const requests = (i * rps) / 4;
    return { t: i * 250, requests, value: value(i, requests) + segment * step, ...(segment ? { segment } : {}) };
  });
}

test('a flat series with two 30 MB capture steps reads STABLE (the steps move no slope)', () => {
  const rss = spec('rssBytes');
  for (let seed = 1; seed <= 4; seed++) {
    const g = gaussian(seed);
    const pts = withCaptures(400, 200, [133, 266], () => 150e6 + 3e5 * g(), 30 * 2 ** 20);
    const a = judgeSeries(rss, pts, ['steady']);
    assert.equal(a.verdict, 'STABLE', a.reason);
    assert.equal(a.segments, 3);
    assert.ok(Math.abs(a.perRequest!.estimate) < 16, a.reason);
    // Fitted across the steps the same points look like a leak: the segments are what help.
    const plain = judgeSeries(
      rss,
      pts.map(({ segment: _s, ...p }) => p),
      ['steady'],
    );
    assert.notEqual(plain.verdict, 'STABLE', plain.reason);
  }
});

test('a 4 KiB/request leak with capture steps reads LEAK with its slope within ±10 %', () => {
  // 1,000 requests/s: 4 MiB/s, above RSS' 2 MiB/s allowance for drift with time.
  for (let seed = 1; seed <= 4; seed++) {
    const g = gaussian(seed);
    const pts = withCaptures(400, 1000, [133, 266], (_i, req) => 150e6 + 4096 * req + 1e6 * g(), 30 * 2 ** 20);
    const a = judgeSeries(spec('rssBytes'), pts, ['steady']);
    assert.equal(a.verdict, 'LEAK', a.reason);
    assert.ok(Math.abs(a.perRequest!.estimate - 4096) < 410, `${a.perRequest!.estimate} B/request`);
    assert.match(a.reason, /fitted across 2 heap capture\(s\)/);
  }
});

test('growth inside segments that the level does not carry across captures is not a leak', () => {
  // Each capture frees 80 MB and the series regrows to its old level (3 MiB/s inside each
  // segment, above RSS' per-second minimum): recovery, not a leak.
  const pts = withCaptures(300, 500, [100, 200], (i) => 150e6 + 80e6 * Math.min(1, (i % 100) / 100), 0);
  const a = judgeSeries(spec('rssBytes'), pts, ['steady']);
  assert.notEqual(a.verdict, 'LEAK', a.reason);
  assert.match(a.reason, /does not rise across them/);
});

test('equivalence: a significant but negligible trend is STABLE, an uncertain one GROWING with what would decide it', () => {
  // 20 B/request under the heap's sawtooth: significant over 2,000 samples, under the 64 B margin.
  const small = judgeSeries(heap, gcHeap(2000, 5, 20), ['steady']);
  assert.equal(small.verdict, 'STABLE', small.reason);
  assert.match(small.reason, /negligible: < 64 B\/request or < 8 KiB\/s/);
  // Few samples of the same noise: neither proven negligible nor a leak.
  const short = judgeSeries(heap, gcHeap(40, 5, 0), ['steady']);
  assert.equal(short.verdict, 'GROWING', short.reason);
  assert.match(short.reason, /a steady window ~[\d.]+× longer would decide it at this noise/);
});

test('rate-independent: drift with time is no leak however few requests share it', () => {
  // 600 KiB/s of drift at 40 requests/s is 15 KiB/request, but under RSS' 2 MiB/s.
  const g = gaussian(9);
  const pts = withCaptures(400, 40, [], (i) => 150e6 + 600 * 1024 * (i / 4) + 3e5 * g(), 0);
  const a = judgeSeries(spec('rssBytes'), pts, ['steady']);
  assert.ok(a.perRequest!.low > spec('rssBytes').minPerRequest, a.reason);
  assert.notEqual(a.verdict, 'LEAK', a.reason);
});

/**
 * Lazy initialisation over two steady phases of n/2 samples each, `every` ms apart with `perSample`
 * requests: `perRequest` bytes per request up to `until` requests, then flat, plus noise.
 */
function stoppedGrowth(o: {
  n: number;
  every: number;
  perSample: number;
  base: number;
  perRequest: number;
  until: number;
  noise: number;
  seed: number;
}) {
  const g = gaussian(o.seed);
  return Array.from({ length: o.n }, (_, i) => {
    const requests = i * o.perSample;
    return {
      t: i * o.every,
      requests,
      value: o.base + o.perRequest * Math.min(requests, o.until) + o.noise * g(),
      phase: i < o.n / 2 ? 'steady-1' : 'steady-2',
    };
  });
}

test('last window: growth that stopped inside the first steady phase is not a leak', () => {
  // Lazy initialisation: 2 KiB/request for the first 200 samples, then flat, heap settled.
  const pts = stoppedGrowth({
    n: 400,
    every: 250,
    perSample: 50,
    base: 20e6,
    perRequest: 2048,
    until: 10_000,
    noise: 2e4,
    seed: 3,
  });
  const a = judgeSeries(spec('heapUsedSettledBytes'), pts, ['steady-1', 'steady-2']);
  assert.equal(a.lastWindow?.label, 'steady-2');
  assert.equal(a.lastWindow?.verdict, 'STABLE');
  assert.notEqual(a.verdict, 'LEAK', a.reason);
  assert.match(a.reason, /grew during steady-1, flat in steady-2.*: not a leak/);
  // The same growth still going in steady-2 is a LEAK.
  const going = pts.map((p) => ({ ...p, value: 20e6 + 2048 * p.requests }));
  const b = judgeSeries(spec('heapUsedSettledBytes'), going, ['steady-1', 'steady-2']);
  assert.equal(b.verdict, 'LEAK', b.reason);
  assert.match(b.reason, /still growing in steady-2/);
});

test('last window: a noisy warm-up in the first phase and a negligible last phase read STABLE, a still-growing one does not', () => {
  // Warm-up growth drowned in noise in steady-1 (the whole window neither significant nor
  // negligible), then a quiet, flat steady-2.
  const g = gaussian(12);
  const pts = Array.from({ length: 80 }, (_, i) => {
    const first = i < 40;
    const requests = i * 100;
    return {
      t: i * 500,
      requests,
      value: 4e6 + (first ? 60 * requests + 1e5 * g() : 240_000 + 4e3 * g()),
      phase: first ? 'steady-1' : 'steady-2',
    };
  });
  const a = judgeSeries(spec('heapUsedSettledBytes'), pts, ['steady-1', 'steady-2']);
  assert.ok(a.trend!.pValue >= 0.01 && a.perRequest!.high > 32, 'the whole window alone decides nothing');
  assert.equal(a.lastWindow?.verdict, 'STABLE');
  assert.equal(a.verdict, 'STABLE', a.reason);
  assert.match(
    a.reason,
    /not proven negligible over all steady phases, flat in steady-2 .*: stable where the run ended/,
  );
  // The same with steady-2 still growing 60 B/request is not STABLE.
  const going = pts.map((p) => (p.phase === 'steady-2' ? { ...p, value: 4e6 + 60 * p.requests + 4e3 * g() } : p));
  const b = judgeSeries(spec('heapUsedSettledBytes'), going, ['steady-1', 'steady-2']);
  assert.notEqual(b.lastWindow?.verdict, 'STABLE');
  assert.notEqual(b.verdict, 'STABLE', b.reason);
});

test('no culprit unless something LEAKs', () => {
  const flat = judgeSeries(
    spec('openFds'),
    series(100, () => 24),
    ['steady'],
  );
  const culprit = {
    className: 'Array',
    heldBy: 'x',
    path: 'x',
    retainedSize: 64,
    count: 1,
    growthShare: 0,
    growthBasis: null,
  };
  const growing = { ...flat, verdict: 'GROWING' as const, reason: 'open fds grow' };
  assert.equal(overallVerdict([growing], null, culprit).culprit, null);
  assert.equal(overallVerdict([flat], null, culprit).culprit, null);
});

// ---- the overall verdict with inconclusive series (docs/verdicts.md, "The overall verdict") ----

/** A short corpus-like run at 200 requests/s: settled heap, unsettled heap, RSS and external memory. */
function shortRun(o: { settledLeak?: number; rssPerSecond?: number; rssNoise?: number; externalLeak?: number }) {
  const g = gaussian(11);
  const settledPts = series(48, (_i, req) => 4e6 + (o.settledLeak ?? 0) * req * 2 + 2e3 * g()).map((p) => ({
    ...p,
    t: p.t * 2,
    requests: p.requests * 2,
  }));
  const settled = judgeSeries(spec('heapUsedSettledBytes'), settledPts, ['steady']);
  const unsettled = judgeSeries(heap, gcHeap(96, 4, o.settledLeak ?? 0, 4e6, 1e6), ['steady']);
  const rss = judgeSeries(
    spec('rssBytes'),
    series(96, (i) => 90e6 + ((o.rssPerSecond ?? 0) * i) / 4 + (o.rssNoise ?? 1e5) * g()),
    ['steady'],
  );
  const external = judgeSeries(
    spec('externalBytes'),
    series(96, (_i, req) => 2e6 + (o.externalLeak ?? 0) * req),
    ['steady'],
  );
  return reconcileHeapSeries([rss, settled, unsettled, external]);
}

test('overall STABLE may carry RSS drift under its leak minimum when every allocation series is negligible', () => {
  // RSS drifts 150 KiB/s (750 B/request): not negligible, far under its 2 MiB/s leak minimum.
  const s = shortRun({ rssPerSecond: 150 * 1024, rssNoise: 5e4 });
  const byKey = (k: string) => s.find((x) => x.key === k)!;
  assert.equal(byKey('heapUsedSettledBytes').verdict, 'STABLE', byKey('heapUsedSettledBytes').reason);
  assert.equal(byKey('externalBytes').verdict, 'STABLE');
  assert.equal(byKey('rssBytes').verdict, 'GROWING', byKey('rssBytes').reason);
  const o = overallVerdict(s, null, null);
  assert.equal(o.verdict, 'STABLE', o.headline);
  assert.ok(o.inconclusive?.some((t) => t.key === 'rssBytes'));
  assert.match(o.headline, /^No leak: V8 heap used \(GC-settled\) is stable/);
  assert.match(
    o.headline,
    /RSS not proven negligible: up to [\d.]+ (?:KiB|B)\/request and [\d.]+ KiB\/s \(95% CI\), under its leak minimum of 2 MiB\/s/,
  );
  assert.deepEqual(
    toleratedInconclusive(s)
      ?.map((t) => t.key)
      .sort(),
    (o.inconclusive ?? []).map((t) => t.key).sort(),
  );
});

test('open fds that move within the connections the load may hold open may stand beside a STABLE; beyond them they may not', () => {
  // A loopback target's fds follow the load's connections: up 5, and 3 more now and then.
  const fds = judgeSeries(
    spec('openFds'),
    series(96, (i) => 30 + (i > 60 ? 5 : 0) + (i % 17 < 3 ? 3 : 0)),
    ['steady'],
  );
  assert.equal(fds.verdict, 'GROWING', fds.reason);
  const rise = fds.perRequest!.high * fds.requestSpan;
  const s = [...shortRun({}), fds];
  assert.equal(overallVerdict(s, null, null).verdict, 'GROWING', 'no connection bound known: not carried');
  const within = overallVerdict(s, null, null, { loadConnections: Math.ceil(rise) });
  assert.equal(within.verdict, 'STABLE', within.headline);
  assert.match(
    within.headline,
    /open fds not proven negligible: a rise of up to [\d.]+ over the steady phases \(95% CI\), within the \d+ connections the load may hold open/,
  );
  assert.equal(overallVerdict(s, null, null, { loadConnections: Math.floor(rise) - 1 }).verdict, 'GROWING');
  // Beside a GROWING heap nothing is carried.
  const heapGrowing = [...shortRun({ settledLeak: 40 }), fds];
  assert.notEqual(overallVerdict(heapGrowing, null, null, { loadConnections: 64 }).verdict, 'STABLE');
});

test('RSS that could be a leak on both scales keeps the run GROWING, however flat the heap', () => {
  // 2 MiB/s of RSS under heavy noise: the interval straddles the 2 MiB/s minimum, far past 256 B/request.
  const s = shortRun({ rssPerSecond: 2 * 2 ** 20, rssNoise: 5e6 });
  const rss = s.find((x) => x.key === 'rssBytes')!;
  assert.equal(rss.verdict, 'GROWING', rss.reason);
  assert.ok(rss.perSecond!.high > rss.threshold.minPerSecond && rss.perRequest!.high > rss.threshold.minPerRequest);
  const o = overallVerdict(s, null, null);
  assert.equal(o.verdict, 'GROWING', o.headline);
  assert.equal(o.inconclusive, undefined);
  assert.equal(toleratedInconclusive(s), null);
});

test('an inconclusive heap or off-heap series keeps the run GROWING: RSS may stand only beside proven allocations', () => {
  // The settled heap grows 40 B/request (between its 32 B margin and 64 B minimum).
  const heapGrowing = shortRun({ settledLeak: 40, rssPerSecond: 150 * 1024, rssNoise: 5e4 });
  assert.equal(heapGrowing.find((x) => x.key === 'heapUsedSettledBytes')!.verdict, 'GROWING');
  assert.equal(overallVerdict(heapGrowing, null, null).verdict, 'GROWING');
  // Without a GC-settled series nothing proves the heap negligible (fleet mode): RSS drift is GROWING.
  const noSettled = shortRun({ rssPerSecond: 150 * 1024, rssNoise: 5e4 }).filter(
    (x) => x.key !== 'heapUsedSettledBytes',
  );
  assert.equal(overallVerdict(noSettled, null, null).verdict, 'GROWING');
  // A counter that is not proven negligible is never carried.
  const fds = judgeSeries(
    spec('openFds'),
    series(96, (i) => 30 + ((i * 7) % 23)),
    ['steady'],
  );
  assert.equal(fds.verdict, 'GROWING', fds.reason);
  assert.equal(overallVerdict([...shortRun({}), fds], null, null).verdict, 'GROWING');
});

test('with RSS carried, a slow heap leak still reads LEAK and growth that stopped reads STABLE', () => {
  // ~100 B/request in the GC-settled heap (the corpus' slow leak).
  const slow = shortRun({ settledLeak: 100, rssPerSecond: 150 * 1024, rssNoise: 5e4 });
  const o = overallVerdict(slow, null, null);
  assert.equal(o.verdict, 'LEAK', o.headline);
  assert.ok(o.leaking.includes('heapUsedSettledBytes'));
  assert.equal(o.inconclusive, undefined);
  // Lazy initialisation: the settled heap grows in steady-1 and is flat in steady-2.
  const pts = stoppedGrowth({
    n: 96,
    every: 500,
    perSample: 100,
    base: 4e6,
    perRequest: 400,
    until: 4000,
    noise: 2e3,
    seed: 5,
  });
  const settled = judgeSeries(spec('heapUsedSettledBytes'), pts, ['steady-1', 'steady-2']);
  assert.equal(settled.verdict, 'STABLE', settled.reason);
  const rest = shortRun({ rssPerSecond: 150 * 1024, rssNoise: 5e4 }).filter((x) => x.key !== 'heapUsedSettledBytes');
  const stopped = overallVerdict([...rest, settled], null, null);
  assert.equal(stopped.verdict, 'STABLE', stopped.headline);
});
