import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { SeriesAnalysis } from '../../common/analysis-format.js';
import {
  judgeSeries,
  overallVerdict,
  reconcileHeapSeries,
  SERIES_SPECS,
  type SeriesSpec,
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
    assert.match(a.reason, /^V8 heap used grows \d+ B\/request ±\d+(\.\d)? B \(95% CI\), Mann-Kendall p<0\.001/);
    assert.ok(a.trend!.pValue < 0.001 && a.relativeGrowth! > 0.1);
  }
});

test('a real but small trend is GROWING (significant, below the practical threshold)', () => {
  const a = judgeSeries(heap, gcHeap(1200, 3, 40), ['steady']);
  assert.equal(a.verdict, 'GROWING', a.reason);
  assert.match(a.reason, /below the leak threshold/);
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
      thresholds: { heapUsedBytes: { minPerRequest: 10, minRelativeGrowth: 0.01 } },
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
  const leak = judgeSeries(spec('rssBytes'), gcHeap(400, 1, 2000, 150e6, 4e6), ['steady']);
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
  assert.match(o.headline, /^Leak: RSS grows 1\.9\d KiB\/request ±\d+ B \(95% CI\)/);
  assert.match(o.headline, /SessionCache\.executors\[\] retains .* \(96% of the heap growth\)/);
  const ok = overallVerdict([flat], null, null);
  assert.equal(ok.verdict, 'STABLE');
  assert.match(ok.headline, /^No leak: open fds are stable/);
  const none = overallVerdict([judgeSeries(heap, [], ['steady']) as SeriesAnalysis], null, null);
  assert.equal(none.verdict, 'INSUFFICIENT_DATA');
});
