/**
 * The fleet report (`leakscope fleet --out DIR`): the fleet's verdict and counts, the
 * canary comparison (each series' sub-window slopes of both groups, the rank test and its
 * effect size), small multiples of RSS per instance on shared axes (so a leaking pod
 * stands out by its slope, not by a rescaled axis), and a table of every instance. The
 * same self-contained page, escaping and CSP as the run report (html-page.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CanaryComparison, FleetResult, InstanceJudgement } from '../common/fleet-format.js';
import { VERSION } from '../common/version.js';
import { formatP, formatPercent, formatQuantity } from '../common/format-numbers.js';
import { median } from '../analyzer/series/median.js';
import type { ChartSpec } from './chart-specs.js';
import { html, type SafeHtml } from './html-escape.js';
import { renderPage } from './html-page.js';
import { verdictBadge } from './report-sections.js';

/** Instances drawn as small multiples (worst first); the table lists them all. */
export const MAX_MULTIPLES = 48;
const MiB = 1024 * 1024;
const COLORS = { canary: '#b91c1c', baseline: '#2563eb', instance: '#0f766e' };

const bytes = (v: number | null) => (v === null ? '—' : formatQuantity(v, 'bytes'));
const perRequest = (c: CanaryComparison, v: number) => `${formatQuantity(v, c.unit)}/request`;

function smallMultiples(r: FleetResult): ChartSpec[] {
  const shown = r.instances.filter((i) => i.rssChart.length).slice(0, MAX_MULTIPLES);
  let yMax = 0;
  let xMax = 0;
  for (const i of shown)
    for (const [x, y] of i.rssChart) {
      yMax = Math.max(yMax, y / MiB);
      xMax = Math.max(xMax, x / 3_600_000);
    }
  return shown.map((i, k) => ({
    id: `rss-${k + 1}`,
    seriesKey: 'rssBytes',
    title: `${i.instance}${i.group ? ` (${i.group})` : ''}: ${i.verdict}`,
    axis: 'time' as const,
    xLabel: 'hours',
    yLabel: 'RSS MiB',
    datasets: [
      {
        label: i.instance,
        color: i.group === 'canary' ? COLORS.canary : i.group === 'baseline' ? COLORS.baseline : COLORS.instance,
        points: i.rssChart.map(([x, y]) => [Number((x / 3_600_000).toFixed(4)), Number((y / MiB).toFixed(2))] as const),
        showLine: true,
      },
    ],
    markers: [],
    bounds: { x: [0, Number(xMax.toFixed(4))], y: [0, Math.ceil(yMax * 1.05)] },
  }));
}

function canaryCharts(r: FleetResult): ChartSpec[] {
  return (r.canary?.comparisons ?? []).map((c) => ({
    id: `canary-${c.key}`,
    seriesKey: c.key,
    title: `${c.label}: growth per request of each sub-window`,
    axis: 'requests' as const,
    xLabel: 'sub-window',
    yLabel: `${c.unit === 'bytes' ? 'bytes' : c.label}/request`,
    datasets: [
      {
        label: 'canary',
        color: COLORS.canary,
        points: c.canarySlopes.map((v, k) => [k + 1, v] as const),
        showLine: false,
      },
      {
        label: 'baseline',
        color: COLORS.baseline,
        points: c.baselineSlopes.map((v, k) => [k + 1, v] as const),
        showLine: false,
      },
    ],
    markers: [],
  }));
}

function instanceRow(i: InstanceJudgement): SafeHtml {
  const p = i.projection;
  const growing = i.series.filter((s) => s.verdict === 'LEAK' || s.verdict === 'GROWING');
  return html`<tr>
<td><code>${i.instance}</code>${i.group ? html` <span class="tag">${i.group}</span>` : ''}</td>
<td>${verdictBadge(i.verdict)}</td>
<td>${i.pass ? 'pass' : html`<span class="err">fail</span>`}</td>
<td class="n">${bytes(p.lastRssBytes)}</td>
<td class="n">${p.rssPerHour ? `${bytes(p.rssPerHour.estimate)}/h` : '—'}</td>
<td class="n">${p.hoursToLimit === null ? '—' : `${p.hoursToLimit.toFixed(1)} h`}</td>
<td class="n">${i.restarts}</td>
<td class="n">${i.oomKills}</td>
<td class="reason">${growing.map((s) => html`<div>${s.reason}</div>`)}${i.failures.map((f) => html`<div class="err">${f}</div>`)}</td>
</tr>`;
}

function canarySection(r: FleetResult): SafeHtml {
  const k = r.canary;
  if (!k) return html``;
  const rows = k.comparisons.map(
    (c) => html`<tr>
<td>${c.label}</td>
<td class="n">${perRequest(c, median(c.canarySlopes as number[]) ?? 0)}</td>
<td class="n">${perRequest(c, median(c.baselineSlopes as number[]) ?? 0)}</td>
<td class="n">${perRequest(c, c.test.shift)}</td>
<td class="n">${c.test.commonLanguage.toFixed(2)}</td>
<td class="n">${c.test.u} (${c.test.n1} vs ${c.test.n2}, ${c.test.method})</td>
<td class="n">${formatP(c.test.pValue)}</td>
<td class="n">${perRequest(c, c.threshold)}</td>
<td>${c.pass ? 'pass' : html`<span class="err">fail</span>`}</td>
</tr>`,
  );
  return html`<section><h2>Canary vs baseline</h2>
<p class="note">Canary <code>${k.canarySelector}</code> (${k.canaryInstances.join(', ')}) against baseline <code>${k.baselineSelector}</code> (${k.baselineInstances.join(', ')}): growth per request of ${k.windowsPerInstance} sub-windows per instance, compared with a one-sided Mann–Whitney test at α = ${k.alpha}; a series fails when the canary is significantly greater and the Hodges–Lehmann shift exceeds the threshold.</p>
<p class="headline">${k.headline}</p>
<div class="tw"><table class="wide"><thead><tr><th>series</th><th class="n">canary median</th><th class="n">baseline median</th><th class="n">shift</th><th class="n">P(canary &gt; baseline)</th><th class="n">U</th><th class="n">p</th><th class="n">threshold</th><th>result</th></tr></thead>
<tbody>${rows}</tbody></table></div>
<div class="charts">${k.comparisons.map((c) => html`<figure class="chart"><canvas data-chart="${`canary-${c.key}`}"></canvas></figure>`)}</div>
</section>`;
}

/**
 * The fleet report's page and the charts it draws.
 * @example const { html } = buildFleetReport(result)
 */
export function buildFleetReport(r: FleetResult): { html: string; charts: ChartSpec[] } {
  const multiples = smallMultiples(r);
  const canary = canaryCharts(r);
  const c = r.counts;
  const worst = r.instances[0]?.verdict ?? 'INSUFFICIENT_DATA';
  const body = html`<h1>leakscope fleet: ${r.pass ? 'pass' : 'fail'}</h1>
<p class="sub">${r.query.prometheus} · <code>${r.query.selector}</code> by ${r.query.groupBy} · ${r.query.start} → ${r.query.end} at ${r.query.stepSeconds} s</p>
<section class="verdict ${r.pass ? 'stable' : worst === 'LEAK' ? 'leak' : 'growing'}"><h2>Verdict</h2><p class="headline">${r.headline}</p></section>
<table class="kv"><tbody>
<tr><th>instances</th><td>${c.instances}</td></tr>
<tr><th>verdicts</th><td>${verdictBadge('LEAK')} ${c.LEAK} · ${verdictBadge('GROWING')} ${c.GROWING} · ${verdictBadge('STABLE')} ${c.STABLE} · not enough data ${c.INSUFFICIENT_DATA}</td></tr>
<tr><th>restarts / OOM kills</th><td>${c.restarts} / ${c.oomKills}</td></tr>
<tr><th>over budget</th><td>${c.failed} (budget ${r.settings.budget}, ${formatPercent(r.settings.confidence)} confidence)</td></tr>
<tr><th>Prometheus</th><td>${r.query.requests} range queries, at most ${r.query.concurrency} at once</td></tr>
</tbody></table>
${r.warnings.map((w) => html`<p class="note err">${w}</p>`)}
${canarySection(r)}
<section><h2>RSS per instance</h2>
<p class="note">${multiples.length} of ${r.instances.length} instances, worst first, on shared axes (hours since ${r.query.start}, MiB).</p>
<div class="charts">${multiples.map((m) => html`<figure class="chart"><canvas data-chart="${m.id}"></canvas></figure>`)}</div>
</section>
<section><h2>Instances</h2>
<div class="tw"><table class="wide"><thead><tr><th>instance</th><th>verdict</th><th>budget</th><th class="n">RSS</th><th class="n">RSS growth</th><th class="n">to limit</th><th class="n">restarts</th><th class="n">OOM kills</th><th>evidence</th></tr></thead>
<tbody>${r.instances.map(instanceRow)}</tbody></table></div>
</section>
<footer>Generated by leakscope ${VERSION} at ${r.analyzedAt}. Self-contained: charts are drawn by the inlined Chart.js from data embedded in the page.</footer>`;
  const charts = [...canary, ...multiples];
  return { html: renderPage(`leakscope fleet: ${r.query.selector}`, body, charts), charts };
}

/**
 * Writes `index.html` (and `fleet.json`, the result) into `outDir`.
 * @example const file = await writeFleetReport(result, 'reports/fleet')
 */
export async function writeFleetReport(r: FleetResult, outDir: string): Promise<string> {
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const file = join(out, 'index.html');
  await writeFile(file, buildFleetReport(r).html);
  await writeFile(join(out, 'fleet.json'), `${JSON.stringify(r, null, 2)}\n`);
  return file;
}
