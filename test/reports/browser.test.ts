/**
 * The report in a real headless browser (Debian's chromium driven by playwright-core):
 * hostile text planted in every field that comes from a target or a snapshot must show as
 * text and run nothing, the page must need no network, and every chart must draw.
 * Checked twice: as written, and with its Content-Security-Policy removed, so the
 * escaping is proven on its own and not only by the CSP behind it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { writeReport, type WrittenReport } from '../../reports/write-report.js';
import { PAYLOADS, syntheticAnalysis, writeSyntheticPair } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const CHROMIUM = '/usr/bin/chromium';

interface PageFacts {
  pwned: unknown;
  scripts: number;
  injected: number;
  text: string;
  canvases: { id: string; chart: boolean; width: number; inked: number }[];
}

async function inspect(browser: Browser, file: string, expectCharts: number): Promise<void> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  const problems: string[] = [];
  await context.route('**/*', (route) =>
    route.request().url().startsWith('file://') ? route.continue() : route.abort(),
  );
  const page = await context.newPage();
  page.on('request', (r) => requests.push(r.url()));
  page.on('dialog', (d) => {
    problems.push(`dialog: ${d.message()}`);
    void d.dismiss();
  });
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const url = pathToFileURL(file).href;
  await page.goto(url, { waitUntil: 'load' });
  const facts = (await page.evaluate(() => {
    // Runs in the page; the project compiles without DOM types.
    const g = globalThis as unknown as { document: any; __pwned?: unknown; Chart: any };
    const doc = g.document;
    const canvases = [...doc.querySelectorAll('canvas')].map((c: any) => {
      const ctx = c.getContext('2d');
      const px = ctx.getImageData(0, 0, c.width, c.height).data as Uint8ClampedArray;
      let inked = 0;
      // Count pixels that are neither transparent nor white: axes, lines, labels.
      for (let i = 0; i < px.length; i += 4)
        if (px[i + 3]! > 0 && (px[i]! < 235 || px[i + 1]! < 235 || px[i + 2]! < 235)) inked++;
      return { id: c.getAttribute('data-chart'), chart: !!g.Chart.getChart(c), width: c.width, inked };
    });
    return {
      pwned: g.__pwned,
      scripts: doc.querySelectorAll('script').length,
      injected: doc.querySelectorAll('body img, body iframe, body svg, body style, body object, body embed').length,
      // biome-ignore lint/performance/useDomNodeTextContent: the visible text is the point (textContent would include script bodies)
      text: doc.body.innerText,
      canvases,
    };
  })) as PageFacts;
  await context.close();

  assert.equal(facts.pwned, undefined, `${file}: planted script ran`);
  assert.deepEqual(problems, [], `${file}: dialogs, console errors or page errors`);
  assert.deepEqual(requests, [url], `${file}: the page asked for something beyond itself`);
  assert.equal(facts.scripts, 3, 'only the chart data, Chart.js and the start-up script');
  assert.equal(facts.injected, 0, 'no element from planted markup');
  for (const p of PAYLOADS.slice(0, 6)) assert.ok(facts.text.includes(p), `planted text shown literally: ${p}`);
  assert.ok(facts.text.includes('&lt;b&gt; &amp;'), 'entities in data stay literal');
  assert.equal(facts.canvases.length, expectCharts);
  for (const c of facts.canvases) {
    assert.ok(c.chart, `${c.id}: Chart.js chart attached`);
    assert.ok(c.width > 100 && c.inked > 2000, `${c.id}: canvas drew (${c.inked} inked pixels of width ${c.width})`);
  }
}

/** The same page without its CSP meta element. */
async function withoutCsp(file: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  const stripped = text.replace(/<meta http-equiv="Content-Security-Policy" content="[^"]*">/, '');
  assert.notEqual(stripped, text, 'the report has a CSP to remove');
  const out = file.replace(/\.html$/, '-no-csp.html');
  await writeFile(out, stripped);
  return out;
}

test('report with planted <script> in every target/snapshot text runs nothing, needs no network, draws every chart', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install chromium; .ci/run installs it)`,
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
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    });
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
