/**
 * The self-contained page around a report's sections: inline CSS, the chart data as JSON,
 * Chart.js itself (read from node_modules at render time) and a small start-up script.
 * A Content-Security-Policy admits only those two scripts by hash and no network at all,
 * as a second wall behind the escaping.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { chartConfig, drawPhaseMarkers } from './chart-config.js';
import type { ChartSpec } from './chart-specs.js';
import { html, inlineScriptText, jsonForScript, type SafeHtml, trustedHtml } from './html-escape.js';

let chartJsSource: string | undefined;

/** Chart.js's UMD build, without its source-map comment (the page must not ask for files). */
function chartJs(): string {
  if (chartJsSource === undefined) {
    // chart.js's "exports" hide dist/chart.umd.js; it sits beside the CommonJS entry.
    const file = join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.js');
    chartJsSource = readFileSync(file, 'utf8').replace(/\n\/\/# sourceMappingURL=\S*\s*$/, '\n');
  }
  return chartJsSource;
}

/** Draws every `canvas[data-chart]` from the JSON element; no data is ever part of this script's text. */
const BOOT = `(function () {
  'use strict';
  var drawPhaseMarkers = ${drawPhaseMarkers.toString()};
  var plugin = {
    id: 'phaseMarkers',
    beforeDraw: function (c, a, o) { drawPhaseMarkers(c, o.markers || [], 'background'); },
    beforeDatasetsDraw: function (c, a, o) { drawPhaseMarkers(c, o.markers || [], 'bands'); }
  };
  var el = document.getElementById('leakscope-charts');
  var configs = el ? JSON.parse(el.textContent) : {};
  var charts = [];
  document.querySelectorAll('canvas[data-chart]').forEach(function (canvas) {
    var cfg = configs[canvas.getAttribute('data-chart')];
    if (cfg) { cfg.plugins = [plugin]; charts.push(new Chart(canvas, cfg)); }
  });
  window.addEventListener('beforeprint', function () { charts.forEach(function (c) { c.resize(); }); });
})();
`;

const CSS = `
:root { --fg: #0f172a; --muted: #64748b; --line: #e2e8f0; --bg-soft: #f8fafc; --leak: #b91c1c; --grow: #b45309; --ok: #15803d; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif; color: var(--fg); margin: 0 auto; padding: 20px 28px 40px; max-width: 1280px; }
h1 { font-size: 22px; margin: 0 0 2px; }
h2 { font-size: 17px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
h3 { font-size: 14px; margin: 16px 0 6px; }
.sub, .note, .meta { color: var(--muted); font-size: 12.5px; margin: 4px 0 8px; }
code { font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", "Liberation Mono", monospace; background: var(--bg-soft); padding: 0 3px; border-radius: 3px; overflow-wrap: break-word; }
code.path { display: block; white-space: pre-wrap; background: none; padding: 0; overflow-wrap: anywhere; min-width: 24em; }
code.json { white-space: pre-wrap; }
.tw { overflow-x: auto; margin: 6px 0 10px; }
table { border-collapse: collapse; font-size: 12.5px; min-width: 40%; }
table.wide, table.kv { width: 100%; }
table.wide td:first-child { white-space: nowrap; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--bg-soft); font-weight: 600; white-space: nowrap; }
table.kv th { width: 220px; font-weight: 600; color: #334155; background: none; }
th.n, td.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
th.group { text-align: center; border-bottom: none; }
.reason { color: #334155; }
.tag { font-size: 11px; color: var(--ok); border: 1px solid currentColor; border-radius: 8px; padding: 0 5px; }
.badge { display: inline-block; font-weight: 700; font-size: 11.5px; letter-spacing: .02em; text-transform: uppercase; padding: 1px 7px; border-radius: 10px; color: #fff; background: #94a3b8; white-space: nowrap; }
.badge.leak { background: var(--leak); } .badge.growing { background: var(--grow); } .badge.stable { background: var(--ok); }
.verdict { border: 1px solid var(--line); border-left: 6px solid #94a3b8; border-radius: 6px; padding: 4px 16px 8px; margin: 14px 0; background: var(--bg-soft); }
.verdict h2 { border: none; margin: 8px 0 2px; font-size: 13px; text-transform: uppercase; color: var(--muted); letter-spacing: .05em; }
.verdict.leak { border-left-color: var(--leak); } .verdict.growing { border-left-color: var(--grow); } .verdict.stable { border-left-color: var(--ok); }
.headline { font-size: 17px; font-weight: 600; margin: 4px 0; }
.culprit { margin: 4px 0; }
.evidence { margin: 2px 0 6px; padding-left: 20px; }
.evidence li { margin: 1px 0; }
.side { display: grid; grid-template-columns: 1fr 1fr; gap: 16px; }
.side > * { min-width: 0; }
.charts { display: grid; grid-template-columns: 1fr 1fr; gap: 10px 16px; }
figure.chart { margin: 0; height: 250px; position: relative; border: 1px solid var(--line); border-radius: 4px; padding: 4px; break-inside: avoid; }
tr.changed td { background: #fffbeb; }
.err { color: var(--leak); }
footer { margin-top: 30px; color: var(--muted); font-size: 12px; }
@media (max-width: 800px) { .charts, .side { grid-template-columns: 1fr; } }
@media print {
  body { padding: 0; max-width: none; font-size: 11px; }
  h2 { break-after: avoid; }
  section, table, figure.chart { break-inside: avoid; }
  .charts { gap: 6px; }
  .tw { overflow: visible; }
  figure.chart { height: 210px; }
  @page { margin: 12mm; }
}
`;

const hash = (text: string): string => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/** The whole page: `title` and `body` are already-escaped markup; `charts` are embedded as JSON. */
export function renderPage(title: string, body: SafeHtml, charts: readonly ChartSpec[]): string {
  const lib = inlineScriptText(chartJs()).value;
  const configs = Object.fromEntries(charts.map((c) => [c.id, chartConfig(c, { responsive: true })]));
  const csp = `default-src 'none'; style-src 'unsafe-inline'; img-src data:; script-src ${hash(lib)} ${hash(BOOT)}; base-uri 'none'; form-action 'none'`;
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${trustedHtml(CSS)}</style>
</head><body>
${body}
<script type="application/json" id="leakscope-charts">${jsonForScript(configs)}</script>
<script>${trustedHtml(lib)}</script>
<script>${trustedHtml(BOOT)}</script>
</body></html>
`.value;
}
