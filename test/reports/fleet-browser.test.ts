/**
 * The fleet report in a real headless browser: instance names, selectors and metric
 * names come from Prometheus labels, which anyone who can set a label controls, so
 * hostile text planted there must show as text and run nothing; the page needs no
 * network; every small multiple and canary chart draws, the small multiples on shared axes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_BUDGET } from '../../analyzer/budget.js';
import { judgeFleet } from '../../fleet/analyze-fleet.js';
import { DEFAULT_FLEET_METRICS } from '../../fleet/fleet-metrics.js';
import { buildFleetReport, MAX_MULTIPLES, writeFleetReport } from '../../reports/fleet-report.js';
import { assertSafePage, chromiumMissing, launchChromium, openPage, withoutCsp } from '../helpers/browser-page.js';
import { type SyntheticInstance, syntheticFleetData } from '../helpers/synthetic-fleet.js';
import { PAYLOADS } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const HOUR = 3600;

function plantedFleet() {
  const instances: SyntheticInstance[] = PAYLOADS.map((p, k) => ({
    instance: `pod-${k} ${p}`,
    labels: { track: k < 3 ? 'canary' : 'baseline' },
    ...(k < 3 ? { leakBytesPerRequest: 800, cacheEntriesPerRequest: 0.5 } : {}),
    ...(k === 6 ? { restartsAt: [0.5] } : {}),
    seed: k + 1,
  }));
  const end = 1_796_000_000;
  const data = syntheticFleetData(instances, { job: 'x', startSec: end - 2 * HOUR, endSec: end, stepSec: 30 });
  return judgeFleet(data, {
    query: {
      prometheus: `http://127.0.0.1:9/${PAYLOADS[0]}`,
      selector: `canary {track="${PAYLOADS[1]}"}; baseline {track="${PAYLOADS[2]}"}`,
      groupBy: 'instance',
      start: new Date((end - 2 * HOUR) * 1000).toISOString(),
      end: new Date(end * 1000).toISOString(),
      stepSeconds: 30,
      metrics: Object.fromEntries(DEFAULT_FLEET_METRICS.map((m) => [m.key, m.names])),
      requests: 0,
      concurrency: 0,
    },
    budget: DEFAULT_BUDGET,
    budgetName: PAYLOADS[3],
    limitBytes: null,
    settleMs: 10 * 60_000,
    maxSamples: 300,
    windows: 6,
    canary: { canary: `{track="${PAYLOADS[4]}"}`, baseline: `{track="${PAYLOADS[5]}"}` },
  });
}

test('fleet report: judged synthetic fleet, shared axes, one chart per instance and canary series', () => {
  const r = plantedFleet();
  assert.equal(r.counts.LEAK, 3, r.headline);
  assert.equal(r.canary?.pass, false);
  const { charts } = buildFleetReport(r);
  const multiples = charts.filter((c) => c.id.startsWith('rss-'));
  assert.equal(multiples.length, Math.min(MAX_MULTIPLES, r.instances.length));
  const bounds = new Set(multiples.map((c) => JSON.stringify(c.bounds)));
  assert.equal(bounds.size, 1, 'every small multiple has the same axes');
  assert.ok(charts.some((c) => c.id === 'canary-cacheEntries'));
});

test('fleet report with planted <script> in labels runs nothing, needs no network, draws every chart', {
  skip: chromiumMissing(),
  timeout: 90_000,
}, async () => {
  await withTmpDir('leakscope-fleet-report-', async (dir) => {
    const file = await writeFleetReport(plantedFleet(), join(dir, 'fleet'));
    const html = await readFile(file, 'utf8');
    const charts = (html.match(/<canvas data-chart=/g) ?? []).length;
    assert.ok(charts >= PAYLOADS.length + 3, `small multiples and canary charts (${charts})`);
    const browser = await launchChromium();
    try {
      for (const f of [file, await withoutCsp(file)]) {
        assertSafePage(await openPage(browser, f), f, PAYLOADS.slice(0, 6), charts, 1500);
      }
    } finally {
      await browser.close();
    }
  });
});
