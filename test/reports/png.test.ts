import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRun } from '../../analyzer/run-reader.js';
import { topAllocationSites } from '../../analyzer/heap/allocation-profile.js';
import { renderChartPng } from '../../reports/chart-png.js';
import { chartSpecs, requestsAt } from '../../reports/chart-specs.js';
import { writeReport } from '../../reports/write-report.js';
import { syntheticAnalysis, writeSyntheticRun } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/** Width and height from the IHDR chunk. */
const pngSize = (b: Buffer): [number, number] => [b.readUInt32BE(16), b.readUInt32BE(20)];

test('chart PNGs: valid signature, requested size, non-trivial content; one per chart beside index.html', async () => {
  await withTmpDir('leakscope-report-png-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'leaky', plant: true, intervalMs: 500 });
    const run = readRun(dir);
    const specs = chartSpecs([{ run, label: 'leaky' }]);
    assert.deepEqual(
      specs.slice(0, 2).map((s) => s.id),
      ['rssBytes-time', 'rssBytes-requests'],
    );
    const png = await renderChartPng(specs[0]!, { width: 640, height: 300 });
    assert.deepEqual(png.subarray(0, 8), PNG_SIGNATURE);
    assert.deepEqual(pngSize(png), [640, 300]);
    assert.ok(png.length > 8000, `a drawn chart, not a blank canvas (${png.length} bytes)`);

    const r = await writeReport([dir], join(dir, 'report'), { analyze: () => syntheticAnalysis({ mode: 'leaky' }) });
    assert.equal(r.pngs.length, specs.length);
    for (const f of r.pngs) {
      const b = await readFile(f);
      assert.deepEqual(b.subarray(0, 8), PNG_SIGNATURE, f);
      assert.ok(b.length > 8000, `${f}: ${b.length} bytes`);
    }
    assert.match(await readFile(r.html, 'utf8'), /^<!doctype html>/);
  });
});

test('phase boundaries on the requests axis interpolate requests completed between samples', () => {
  const samples = [
    { t: 0, phase: 'a', requests: 0 },
    { t: 1000, phase: 'a', requests: 100 },
    { t: 2000, phase: 'b', requests: 300 },
  ];
  assert.equal(requestsAt(samples, 500), 50);
  assert.equal(requestsAt(samples, 1500), 200);
  assert.equal(requestsAt(samples, 5000), 300);
  assert.equal(requestsAt([], 10), 0);
});

test('allocation sites: self size summed per call site across stacks, heaviest caller named', () => {
  const frame = (functionName: string, url: string, lineNumber: number) => ({
    functionName,
    url,
    lineNumber,
    columnNumber: 1,
  });
  const profile = {
    head: {
      callFrame: frame('(root)', '', -1),
      selfSize: 0,
      children: [
        {
          callFrame: frame('handle', 'file:///a.js', 9),
          selfSize: 100,
          children: [{ callFrame: frame('makeKey', 'file:///k.js', 4), selfSize: 700, children: [] }],
        },
        {
          callFrame: frame('other', 'file:///b.js', 1),
          selfSize: 50,
          children: [{ callFrame: frame('makeKey', 'file:///k.js', 4), selfSize: 300, children: [] }],
        },
      ],
    },
  };
  const s = topAllocationSites(profile, 'p.heapprofile', 2);
  assert.equal(s.totalSize, 1150);
  assert.equal(s.siteCount, 3);
  assert.equal(s.sites.length, 2);
  assert.deepEqual(
    { ...s.sites[0]!, share: Math.round(s.sites[0]!.share * 100) },
    {
      functionName: 'makeKey',
      url: 'file:///k.js',
      line: 5,
      selfSize: 1000,
      share: 87,
      topCaller: 'handle file:///a.js:10',
    },
  );
  assert.equal(s.sites[1]!.functionName, 'handle');
  assert.throws(() => topAllocationSites({ nodes: [] }, 'x.cpuprofile'), {
    code: 'LS_ERR_BAD_FILE',
    message: /x\.cpuprofile: not a V8 sampling heap profile/,
  });
});

test("charts of an analysed run draw each judged series' Theil–Sen slope over its steady samples", async () => {
  await withTmpDir('leakscope-report-fit-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'leaky', intervalMs: 1000 });
    const run = readRun(dir);
    const analysis = syntheticAnalysis({ mode: 'leaky' });
    const specs = chartSpecs([{ run, label: 'leaky', analysis }]);
    const rss = specs.find((s) => s.id === 'rssBytes-requests')!;
    const fit = rss.datasets.find((d) => d.label.startsWith('trend'))!;
    assert.equal(fit.label, 'trend (LEAK)');
    const [[x0, y0], [x1, y1]] = fit.points as [[number, number], [number, number]];
    const steady = run.samples.filter((s) => s.phase === 'steady');
    assert.deepEqual([x0, x1], [steady[0]!.requests, steady[steady.length - 1]!.requests]);
    assert.ok(
      Math.abs(((y1 - y0) * 1024 * 1024) / (x1 - x0) - 412) < 0.5,
      'slope of the analysis, in bytes per request',
    );
    assert.equal(
      specs.find((s) => s.id === 'heapTotalBytes-requests')!.datasets.length,
      1,
      'no fit for a series the analysis did not judge',
    );
  });
});

test('charts mark each heap capture with a labelled line, on both axes', async () => {
  await withTmpDir('leakscope-report-capture-', async (dir) => {
    await writeSyntheticRun(dir, { mode: 'leaky', intervalMs: 500 });
    const run = readRun(dir);
    const specs = chartSpecs([{ run, label: 'leaky' }]);
    const time = specs.find((s) => s.id === 'rssBytes-time')!;
    assert.deepEqual(time.markers[0]!.captures, [
      { label: 'snapshot baseline', x: 5 },
      { label: 'snapshot target', x: 35 },
      { label: 'snapshot final', x: 55 },
    ]);
    const byRequests = specs.find((s) => s.id === 'rssBytes-requests')!;
    assert.equal(byRequests.markers[0]!.captures![1]!.x, Math.round(requestsAt(run.samples, 35000)));
    // The lines are drawn: the same chart without them renders differently.
    const bare = { ...time, markers: time.markers.map(({ captures: _c, ...m }) => m) };
    const [a, b] = await Promise.all([renderChartPng(time), renderChartPng(bare)]);
    assert.notDeepEqual(a, b);
  });
});
