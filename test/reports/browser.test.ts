/**
 * The report in a real headless browser (Debian's chromium driven by playwright-core):
 * hostile text planted in every field that comes from a target or a snapshot must show as
 * text and run nothing, the page must need no network, and every chart must draw.
 * Checked twice: as written, and with its Content-Security-Policy removed, so the
 * escaping is proven on its own and not only by the CSP behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeReport, type WrittenReport } from '../../reports/write-report.js';
import { assertSafePage, chromiumMissing, launchChromium, openPage, withoutCsp } from '../helpers/browser-page.js';
import { PAYLOADS, syntheticAnalysis, writeSyntheticPair } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';
import type { Browser } from 'playwright-core';

async function inspect(browser: Browser, file: string, expectCharts: number): Promise<void> {
  const page = await openPage(browser, file);
  assertSafePage(page, file, PAYLOADS.slice(0, 6), expectCharts, 2000);
  assert.ok(page.facts.text.includes('&lt;b&gt; &amp;'), 'entities in data stay literal');
}

test('report with planted <script> in every target/snapshot text runs nothing, needs no network, draws every chart', {
  skip: chromiumMissing(),
  timeout: 90_000,
}, async () => {
  await withTmpDir('leakscope-report-browser-', async (dir) => {
    const { leaky, patched } = await writeSyntheticPair(dir, { plant: true, intervalMs: 500 });
    const analyze = (r: { dir: string }) =>
      syntheticAnalysis({ mode: r.dir.endsWith('leaky') ? 'leaky' : 'patched', plant: true });
    const reports: WrittenReport[] = [
      await writeReport([leaky], join(dir, 'one'), { analyze, png: false }),
      await writeReport([leaky, patched], join(dir, 'two'), { analyze, png: false }),
      await writeReport([patched], join(dir, 'bare'), { analyze: () => undefined, png: false }),
    ];
    const browser = await launchChromium();
    try {
      for (const r of reports) {
        const html = await readFile(r.html, 'utf8');
        const charts = (html.match(/<canvas data-chart=/g) ?? []).length;
        assert.ok(charts >= 20, `${r.html}: every series charted (${charts})`);
        await inspect(browser, r.html, charts);
        await inspect(browser, await withoutCsp(r.html), charts);
      }
    } finally {
      await browser.close();
    }
  });
});
