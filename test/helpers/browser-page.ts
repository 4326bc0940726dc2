/**
 * A report page opened in a real headless browser (Debian's chromium through
 * playwright-core), with every request outside the page blocked and recorded, and what
 * the report tests check read out of it: planted-script markers, scripts and injected
 * elements, the visible text, and whether each canvas holds a drawn Chart.js chart.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Why the browser tests cannot run here, or false. */
export const chromiumMissing = (): string | false =>
  existsSync(CHROMIUM) ? false : `${CHROMIUM} not found (apt-get install chromium; .ci/run installs it)`;

export interface PageFacts {
  pwned: unknown;
  scripts: number;
  injected: number;
  text: string;
  canvases: { id: string; chart: boolean; width: number; inked: number }[];
}

export interface OpenedPage {
  readonly url: string;
  readonly facts: PageFacts;
  /** Dialogs, console errors and warnings, page errors. */
  readonly problems: readonly string[];
  /** Every URL the page asked for. */
  readonly requests: readonly string[];
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
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
}

/** Opens `file` and reads the facts out of the page. */
export async function openPage(browser: Browser, file: string): Promise<OpenedPage> {
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
  return { url, facts, problems, requests };
}

/** The same page without its CSP meta element, so the escaping is proven on its own. */
export async function withoutCsp(file: string): Promise<string> {
  const text = await readFile(file, 'utf8');
  const stripped = text.replace(/<meta http-equiv="Content-Security-Policy" content="[^"]*">/, '');
  assert.notEqual(stripped, text, 'the report has a CSP to remove');
  const out = file.replace(/\.html$/, '-no-csp.html');
  await writeFile(out, stripped);
  return out;
}

/**
 * What every report page must satisfy with PAYLOADS planted in its data: nothing ran, no
 * dialog or error, no request beyond the page, only the page's three scripts, no element
 * from planted markup, planted text shown literally, and `charts` canvases that all drew.
 */
export function assertSafePage(
  p: OpenedPage,
  file: string,
  payloads: readonly string[],
  charts: number,
  minInk: number,
): void {
  const { url, facts, problems, requests } = p;
  assert.equal(facts.pwned, undefined, `${file}: planted script ran`);
  assert.deepEqual(problems, [], `${file}: dialogs, console errors or page errors`);
  assert.deepEqual(requests, [url], `${file}: the page asked for something beyond itself`);
  assert.equal(facts.scripts, 3, 'only the chart data, Chart.js and the start-up script');
  assert.equal(facts.injected, 0, 'no element from planted markup');
  for (const t of payloads) assert.ok(facts.text.includes(t), `planted text shown literally: ${t}`);
  assert.equal(facts.canvases.length, charts);
  for (const c of facts.canvases) {
    assert.ok(c.chart, `${c.id}: Chart.js chart attached`);
    assert.ok(c.width > 100 && c.inked > minInk, `${c.id}: canvas drew (${c.inked} inked pixels of width ${c.width})`);
  }
}
