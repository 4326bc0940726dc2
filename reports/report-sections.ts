/**
 * The sections of a report as markup, each from one part of a run or its analysis. All
 * markup goes through `html` (reports/html-escape.ts), so any text from a snapshot or a
 * target is escaped wherever it appears.
 */
import type {
  Analysis,
  Estimate,
  HeapSection,
  SeriesAnalysis,
  SeriesUnit,
  ThreadAnalysis,
  Verdict,
} from '../common/analysis-format.js';
import type { LatencySummary, PhaseResult, RunManifest } from '../common/run-format.js';
import type { RunData } from '../analyzer/run-reader.js';
import { formatBytes, formatCount, formatP, formatPercent, formatQuantity } from '../common/format-numbers.js';
import type { AllocationProfileSummary } from '../analyzer/heap/allocation-profile.js';
import { describeBackingStores } from '../analyzer/heap/backing-stores.js';
import { describeSources } from '../analyzer/heap/source-locations.js';
import { capitalize, type ChartSpec } from './chart-specs.js';
import { html, type HtmlValue, SafeHtml } from './html-escape.js';

// ---- number formatting ----

// The report shows a dash where a figure is missing; the figures themselves are common/format-numbers'.
const known = (n: number | null | undefined): n is number => n !== null && n !== undefined && Number.isFinite(n);
export const fmtCount = (n: number | null | undefined): string => (known(n) ? formatCount(n) : '–');
export const fmtValue = (n: number | null | undefined, unit: SeriesUnit): string =>
  known(n) ? formatQuantity(n, unit) : '–';
const fmtMs = (n: number | undefined): string =>
  n === undefined || !Number.isFinite(n) ? '–' : n >= 100 ? n.toFixed(0) : n >= 10 ? n.toFixed(1) : n.toFixed(2);
const fmtPct = (n: number | null | undefined): string => (known(n) ? formatPercent(n) : '–');

/** "412 B ±30 /request" style: estimate and the half-width of its interval. */
export function fmtRate(e: Estimate | null | undefined, unit: SeriesUnit, per: string): string {
  if (!e) return '–';
  const half = Math.max(e.estimate - e.low, e.high - e.estimate);
  return `${formatQuantity(e.estimate, unit)} ±${formatQuantity(half, unit)} /${per}`;
}

const VERDICT_CLASS: Readonly<Record<Verdict, string>> = {
  LEAK: 'leak',
  GROWING: 'growing',
  STABLE: 'stable',
  INSUFFICIENT_DATA: 'nodata',
};
const VERDICT_WORDS: Readonly<Record<Verdict, string>> = {
  LEAK: 'Leak',
  GROWING: 'Growing',
  STABLE: 'Stable',
  INSUFFICIENT_DATA: 'Not enough data',
};

/** A verdict as a coloured badge; unknown values (a hand-edited analysis.json) show as text. */
export function verdictBadge(v: Verdict | string | undefined): SafeHtml {
  const known = v !== undefined && v in VERDICT_CLASS;
  return html`<span class="badge ${known ? VERDICT_CLASS[v as Verdict] : 'nodata'}">${known ? VERDICT_WORDS[v as Verdict] : (v ?? 'not analysed')}</span>`;
}

/** Target mode for labels: spawned mode or "external". */
export const runMode = (m: RunManifest): string => (m.target.kind === 'spawned' ? m.target.mode : 'external');

const durationS = (m: RunManifest): number => Math.max(0, (Date.parse(m.endedAt) - Date.parse(m.startedAt)) / 1000);

/** A numeric cell: right-aligned, and its column header too when the whole column is numeric. */
class NumCell extends SafeHtml {}
const num = (v: HtmlValue): NumCell => new NumCell(html`${v}`.value);

function table(head: readonly HtmlValue[], rows: readonly (readonly HtmlValue[])[], cls = ''): SafeHtml {
  const numeric = head.map((_, c) => rows.length > 0 && rows.every((r) => r[c] instanceof NumCell));
  const td = (c: HtmlValue): SafeHtml => (c instanceof NumCell ? html`<td class="n">${c}</td>` : html`<td>${c}</td>`);
  return html`<div class="tw"><table class="${cls}"><thead><tr>${head.map((h, c) => (numeric[c] ? html`<th class="n">${h}</th>` : html`<th>${h}</th>`))}</tr></thead><tbody>${rows.map((r) => html`<tr>${r.map(td)}</tr>`)}</tbody></table></div>`;
}

const kvTable = (kv: readonly (readonly [string, HtmlValue])[]): SafeHtml =>
  html`<div class="tw"><table class="kv"><tbody>${kv.map(([k, v]) => html`<tr><th>${k}</th><td>${v}</td></tr>`)}</tbody></table></div>`;

// ---- verdict ----

/** The plain-words verdict at the top of a report. */
export function verdictSection(_run: RunData, analysis: Analysis | undefined, title = 'Verdict'): SafeHtml {
  if (!analysis) {
    return html`<section class="verdict nodata"><h2>${title}</h2><p class="headline">${verdictBadge(undefined)} This run was not analysed: the report shows its samples and load results only.</p></section>`;
  }
  const o = analysis.overall;
  // Only a LEAK has a culprit (analysis.json files written before that rule may carry one).
  const c = o.verdict === 'LEAK' ? o.culprit : null;
  // The analyzer's headline is one sentence of clauses; the first reads as the verdict, the rest as its evidence.
  const [first, ...clauses] = o.headline.split('; ');
  // The culprit gets its own line with more detail; do not say it twice.
  const rest = c ? clauses.filter((r) => !r.includes(c.heldBy)) : clauses;
  const threadReason = analysis.threads?.reason ?? '';
  return html`<section class="verdict ${VERDICT_CLASS[o.verdict] ?? 'nodata'}">
<h2>${title}</h2>
<p class="headline">${verdictBadge(o.verdict)} ${first}</p>
${rest.length ? html`<ul class="evidence">${rest.map((r) => html`<li>${r}</li>`)}</ul>` : ''}
${c ? html`<p class="culprit">Culprit: <b>${c.className}</b> × ${fmtCount(c.count)} held by <code>${c.heldBy}</code>, retaining ${formatBytes(c.retainedSize)}${c.growthShare !== null ? html` (${fmtPct(c.growthShare)} of ${c.growthBasis ?? 'the heap growth'})` : ''}${c.backingStores ? html`, holding ${describeBackingStores(c.backingStores)}` : ''}.${c.source ? html` Code: <span class="source">${c.source}</span>.` : ''}</p>${c.readablePath ? html`<p class="culprit-path">Path: <code class="path">${c.readablePath}</code></p>` : ''}` : ''}
${o.threadProblem && threadReason && !o.headline.includes(threadReason) ? html`<p class="culprit">Threads: ${threadReason}</p>` : ''}
<p class="meta">${o.leaking.length ? html`Leaking series: ${o.leaking.map((k) => analysis.series.find((s) => s.key === k)?.label ?? k).join(', ')}. ` : ''}${fmtCount(analysis.run.requests)} requests, steady phases: ${analysis.run.steadyPhases.join(', ') || 'none'}; ${fmtPct(analysis.settings.confidence)} confidence intervals, trend test α=${analysis.settings.alpha}.</p>
</section>`;
}

// ---- series statistics ----

const verdictWord = (v: string) => v.toLowerCase().replace('_', ' ');

/** The bounds a series was judged against: LEAK above both minimums, STABLE below both margins. */
function fmtThreshold(s: SeriesAnalysis): string {
  const t = s.threshold;
  const q = (v: number) => formatQuantity(v, s.unit);
  // analysis.json written before the equivalence margins has only the leak minimum.
  if (t.negligiblePerRequest === undefined) return `LEAK > ${q(t.minPerRequest)}/request`;
  return `LEAK > ${q(t.minPerRequest)}/request, > ${q(t.minPerSecond)}/s, ≥ ${formatPercent(t.minRelativeGrowth)}; STABLE < ${q(t.negligiblePerRequest)}/request or < ${q(t.negligiblePerSecond)}/s`;
}

/** One row per analysed series: the estimate, its interval and the decision together. */
export function seriesSection(analysis: Analysis | undefined): SafeHtml {
  if (!analysis || analysis.series.length === 0) return html``;
  const rows = analysis.series.map((s: SeriesAnalysis) => [
    capitalize(s.label),
    verdictBadge(s.verdict),
    num(fmtRate(s.perRequest, s.unit, 'request')),
    num(fmtRate(s.perSecond, s.unit, 's')),
    num(s.trend ? `${formatP(s.trend.pValue)}, τ=${s.trend.tau.toFixed(2)}` : '–'),
    num(`${fmtValue(s.start, s.unit)} → ${fmtValue(s.end, s.unit)}`),
    num(fmtValue(s.peak, s.unit)),
    num(s.subsampledFrom ? `${s.n} of ${s.subsampledFrom}` : s.n),
    s.lastWindow
      ? `${s.lastWindow.label}: ${verdictWord(s.lastWindow.verdict)}, ${fmtRate(s.lastWindow.perRequest, s.unit, 'request')}`
      : '–',
    html`<span class="reason">${fmtThreshold(s)}</span>`,
    html`<span class="reason">${s.reason}</span>`,
  ]);
  const captures = analysis.captures?.length ?? 0;
  return html`<section><h2>Growth per series</h2>
<p class="note">Theil–Sen slopes over the steady phases with their confidence intervals, per request and per second; Mann–Kendall trend test${captures ? html`; the series are cut at the ${captures} heap capture(s) and fitted with one slope and an offset per segment, so a capture's RSS step moves no slope` : ''}. LEAK: a significant trend whose lower bounds clear the leak minimums per request and per second, still growing in the last steady window. STABLE: an upper bound under its negligible margin, per request or per second (an equivalence test). GROWING: neither. See docs/verdicts.md.</p>
${table(['Series', 'Verdict', 'Growth per request', 'Growth per second', 'Trend', 'Start → end', 'Peak', 'Samples', 'Last window', 'Thresholds', 'Why'], rows, 'wide')}</section>`;
}

// ---- threads ----

export function threadSection(t: ThreadAnalysis | null | undefined): SafeHtml {
  if (!t) return html``;
  const g = t.growth;
  const growthRows: [string, HtmlValue][] = g
    ? [
        [
          `Threads per 1,000 requests (${g.phases.join(', ')})`,
          `${g.perThousandRequests.estimate.toFixed(2)} (${formatPercent(g.perThousandRequests.confidence)} CI ${g.perThousandRequests.low.toFixed(2)}–${g.perThousandRequests.high.toFixed(2)}), ${fmtValue(g.start, 'count')} → ${fmtValue(g.end, 'count')} over ${fmtValue(g.requestSpan, 'count')} requests`,
        ],
        [
          'What grew',
          g.leaking ? `${g.who}${g.exited === null ? '' : `, ${fmtValue(g.exited, 'count')} exited`}` : '–',
        ],
      ]
    : [];
  // A run without a spike gets no spike vocabulary: only its growth with requests.
  const kv: [string, HtmlValue][] = t.spikePhase
    ? [
        ['Source', t.source === 'threads' ? 'OS threads (/proc)' : 'handler-thread gauge'],
        ['Spike phase', t.spikePhase],
        [
          'Baseline → peak → plateau → after recovery',
          `${fmtValue(t.baseline, 'count')} → ${fmtValue(t.peak, 'count')} (at ${(t.peakTMs / 1000).toFixed(1)} s) → ${fmtValue(t.plateau, 'count')} → ${fmtValue(t.afterRecovery, 'count')}`,
        ],
        ['Peak in-flight requests', fmtValue(t.peakInflight, 'count')],
        [
          'Threads per in-flight request',
          t.threadsPerInflight ? fmtRate(t.threadsPerInflight, 'count', 'in-flight') : '–',
        ],
        ['Came back down', t.cameBackDown === null ? '–' : t.cameBackDown ? 'yes' : 'no'],
        ['Bounded by a cap', t.bounded === null ? '–' : t.bounded ? 'yes' : 'no'],
        ...growthRows,
      ]
    : [
        ['Source', t.source === 'threads' ? 'OS threads (/proc)' : 'handler-thread gauge'],
        ['Start → peak', `${fmtValue(t.baseline, 'count')} → ${fmtValue(t.peak, 'count')}`],
        ...growthRows,
      ];
  return html`<section><h2>Threads</h2><p>${t.reason}</p>
${kvTable(kv)}
${
  t.groups.length
    ? table(
        ['Thread group', 'Baseline', 'Peak', 'After', 'Grew', 'Came back down'],
        t.groups.map((g) => [
          g.name,
          num(fmtValue(g.baseline, 'count')),
          num(fmtValue(g.peak, 'count')),
          num(fmtValue(g.after, 'count')),
          g.grew ? 'yes' : 'no',
          g.cameBackDown === null ? '–' : g.cameBackDown ? 'yes' : 'no',
        ]),
      )
    : ''
}
</section>`;
}

// ---- charts ----

/** Canvases for the charts (drawn by the inline script from the embedded JSON), two per row. */
export function chartsSection(specs: readonly ChartSpec[], note: HtmlValue = ''): SafeHtml {
  if (specs.length === 0) return html`<section><h2>Charts</h2><p class="note">No samples to chart.</p></section>`;
  return html`<section><h2>Series over time and over requests</h2>
<p class="note">Dotted lines mark phase starts; steady phases (where growth is measured) are shaded. ${note}</p>
<div class="charts">${specs.map((s) => html`<figure class="chart"><canvas data-chart="${s.id}" role="img" aria-label="${s.title}">${s.title}</canvas></figure>`)}</div></section>`;
}

// ---- load results ----

const lat = (l: LatencySummary | undefined): string[] =>
  l ? [l.p50Ms, l.p90Ms, l.p99Ms, l.maxMs].map(fmtMs) : ['–', '–', '–', '–'];

/** Load, latency and status codes per phase, from results.json. */
export function loadSection(run: RunData, heading = 'Load and latency per phase'): SafeHtml {
  const phases = run.results.phases;
  if (phases.length === 0)
    return html`<section><h2>${heading}</h2><p class="note">No load results (results.json missing or empty).</p></section>`;
  const steady = new Set(run.manifest.phases.filter((p) => p.steady).map((p) => p.name));
  const load = phases.map((p: PhaseResult) => [
    html`${p.name}${steady.has(p.name) ? html` <span class="tag">steady</span>` : ''}`,
    p.transport,
    num(fmtCount(p.planned)),
    num(fmtCount(p.sent)),
    num(fmtCount(p.completed)),
    num(fmtCount(p.dropped)),
    num(fmtCount(p.errors)),
    num(Number.isFinite(p.achievedRate) ? p.achievedRate.toFixed(1) : '–'),
  ]);
  const latency = html`<div class="tw"><table class="latency"><thead>
<tr><th rowspan="2">Phase</th><th colspan="4" class="group">From intended send time (ms)</th><th colspan="4" class="group">From actual send time (ms)</th></tr>
<tr>${['p50', 'p90', 'p99', 'max', 'p50', 'p90', 'p99', 'max'].map((h) => html`<th class="n">${h}</th>`)}</tr></thead>
<tbody>${phases.map((p) => html`<tr><td>${p.name}</td>${[...lat(p.latencyFromIntended), ...lat(p.latencyFromSent)].map((c) => html`<td class="n">${c}</td>`)}</tr>`)}</tbody></table></div>`;
  const codes = [...new Set(phases.flatMap((p) => Object.keys(p.statusCounts ?? {})))].sort((a, b) =>
    a === 'OK' || a === '200' ? -1 : b === 'OK' || b === '200' ? 1 : a.localeCompare(b),
  );
  const status = codes.length
    ? table(
        ['Phase', ...codes],
        phases.map((p) => [p.name, ...codes.map((c) => num(fmtCount(p.statusCounts?.[c] ?? 0)))]),
      )
    : html`<p class="note">No status codes recorded.</p>`;
  return html`<section><h2>${heading}</h2>
${table(['Phase', 'Transport', 'Planned', 'Sent', 'Completed', 'Dropped', 'Errors', 'Rate (req/s)'], load)}
<h3>Latency</h3><p class="note">From the intended send time includes queueing behind a slow server (no coordinated omission); from the actual send time is what the client saw per request.</p>${latency}
<h3>Status codes</h3>${status}</section>`;
}

// ---- heap ----

/** Rows shown; analysis.json keeps more for whoever wants them. */
const MAX_LEAK_GROUPS = 10;
const MAX_DIFF_ROWS = 15;

/** Heap diff and leak candidates with retainer paths, when the analysis read snapshots. */
export function heapSection(h: HeapSection | null | undefined, heading = 'Heap snapshots'): SafeHtml {
  if (!h) return html``;
  const parts: SafeHtml[] = [];
  if (h.note) parts.push(html`<p class="note">${h.note}</p>`);
  if (h.snapshots)
    parts.push(
      h.snapshots.series
        ? html`<p class="note">Snapshots in order: ${h.snapshots.series.map((f, i) => html`${i ? ' → ' : ''}<code>${f}</code>`)} (baseline first, target the one before the final).</p>`
        : html`<p class="note">Baseline <code>${h.snapshots.baseline}</code>, target <code>${h.snapshots.target}</code>, final <code>${h.snapshots.final}</code>.</p>`,
    );
  if (h.leaks) {
    const l = h.leaks;
    parts.push(
      html`<h3>Leak candidates</h3><p class="note">${fmtCount(l.candidateCount)} objects allocated between baseline and target and still alive in the final snapshot, in groups still growing target → final, retaining ${formatBytes(l.candidateRetainedSize)}; grouped by class and by the object holding them, groups that grew between every pair of snapshots first${l.groups.length > MAX_LEAK_GROUPS ? `, largest ${MAX_LEAK_GROUPS} of ${l.groups.length} groups` : ''}.</p>`,
    );
    if (l.stoppedCount)
      parts.push(
        html`<p class="note stopped">Not blamed: ${fmtCount(l.stoppedCount)} group(s) grew after the baseline but not target → final (warm-up that stopped)${l.stopped?.length ? html`, largest: ${l.stopped.slice(0, 3).map((s, i) => html`${i ? '; ' : ''}<b>${s.className}</b> held by <code>${s.heldBy}</code> (${formatBytes(s.retainedSize)})`)}` : ''}.</p>`,
      );
    parts.push(
      table(
        [
          '#',
          'Class',
          'Count',
          'Self size',
          'Retained',
          'Grew in',
          'Held by',
          'Retainer path (from the GC roots) and code',
        ],
        l.groups.slice(0, MAX_LEAK_GROUPS).map((g, i) => {
          const code = describeSources(g.codeSites, g.allocationSites, g.sourceLine);
          return [
            num(i + 1),
            html`<b>${g.className}</b>`,
            num(fmtCount(g.count)),
            num(formatBytes(g.selfSize)),
            num(
              g.backingStores
                ? html`${formatBytes(g.retainedSize)}<br><small>${describeBackingStores(g.backingStores)}</small>`
                : formatBytes(g.retainedSize),
            ),
            num(g.pairs ? `${g.grewInPairs}/${g.pairs} pairs` : '–'),
            html`<code>${g.heldBy}</code>`,
            g.readablePath
              ? html`<code class="path">${g.readablePath}</code>${code ? html`<div class="source">${code}</div>` : ''}<details><summary>full path</summary><code class="path">${g.path}</code></details>`
              : html`<code class="path">${g.path}</code>`,
          ];
        }),
        'wide',
      ),
    );
  }
  if (h.diff) {
    const d = h.diff;
    parts.push(
      html`<h3>Heap diff by class</h3><p class="note"><code>${d.before.file}</code> (${formatBytes(d.before.totalSize)}, ${fmtCount(d.before.nodeCount)} nodes) → <code>${d.after.file}</code> (${formatBytes(d.after.totalSize)}, ${fmtCount(d.after.nodeCount)} nodes); ${fmtCount(d.changedClassCount)} classes changed, largest size change first${d.changedClassCount > MAX_DIFF_ROWS ? ` (top ${Math.min(MAX_DIFF_ROWS, d.rows.length)})` : ''}.</p>`,
    );
    parts.push(
      table(
        ['Class', 'New', 'Deleted', 'Δ count', 'Allocated', 'Freed', 'Δ size'],
        d.rows
          .slice(0, MAX_DIFF_ROWS)
          .map((r) => [
            r.className,
            num(fmtCount(r.newCount)),
            num(fmtCount(r.deletedCount)),
            num(formatCount(r.deltaCount, true)),
            num(formatBytes(r.allocSize)),
            num(formatBytes(r.freedSize)),
            num(formatBytes(r.deltaSize, true)),
          ]),
      ),
    );
  }
  return html`<section><h2>${heading}</h2>${parts}</section>`;
}

// ---- allocation sites ----

export function allocationSection(
  profiles: readonly (AllocationProfileSummary | { file: string; error: string })[],
  heading = 'Top allocation sites',
): SafeHtml {
  if (profiles.length === 0) return html``;
  return html`<section><h2>${heading}</h2><p class="note">Sampled allocations still alive when the profile was taken, summed per call site.</p>${profiles.map(
    (p) =>
      'error' in p
        ? html`<p class="note">${p.error}</p>`
        : html`<h3><code>${p.file}</code>: ${formatBytes(p.totalSize)} sampled over ${fmtCount(p.siteCount)} sites</h3>${table(
            ['Function', 'Location', 'Self size', 'Share', 'Mostly called from'],
            p.sites.map((s) => [
              html`<b>${s.functionName}</b>`,
              html`<code>${s.url ? `${s.url}:${s.line}` : '(native)'}</code>`,
              num(formatBytes(s.selfSize)),
              num(fmtPct(s.share)),
              html`<code>${s.topCaller ?? '–'}</code>`,
            ]),
          )}`,
  )}</section>`;
}

// ---- parameters ----

const json = (v: unknown): SafeHtml =>
  html`<code class="json">${JSON.stringify(v, null, 1)?.replace(/\n\s*/g, ' ') ?? ''}</code>`;
/** Only relative paths without a scheme become links (a manifest is data, not a source of javascript: URLs). */
const SAFE_LINK = /^(?![a-z][a-z0-9+.-]*:)(?!\/\/)[\w./ -]+$/i;

/** The run's parameters: scenario, target, host, phases, snapshots, warnings. */
export function parametersSection(run: RunData, analysis: Analysis | undefined, heading = 'Run parameters'): SafeHtml {
  const m = run.manifest;
  const t = m.target;
  const kv: [string, HtmlValue][] = [
    ['Run', html`<code>${m.runId}</code> in <code>${run.dir}</code>`],
    ['Scenario', html`<b>${m.scenario.name}</b>${m.scenario.file ? html` (<code>${m.scenario.file}</code>)` : ''}`],
    ['Status', html`${m.status}${m.error ? html`: <span class="err">${m.error}</span>` : ''}`],
    ['Started / ended', `${m.startedAt} → ${m.endedAt} (${durationS(m).toFixed(1)} s)`],
    ['Sample interval', `${m.sampleIntervalMs} ms, ${run.samples.length} samples`],
    [
      'Target',
      t.kind === 'spawned'
        ? html`spawned reference server, mode <b>${t.mode}</b>, fixes: ${t.fixes.join(', ') || 'none'}; pid ${t.pid}, gRPC <code>${t.grpc}</code>, REST <code>${t.rest}</code>${t.options ? html`<br>${json(t.options)}` : ''}`
        : html`external: ${json(t)}`,
    ],
    [
      'Host',
      `${m.host.cpus} CPUs, ${formatBytes(m.host.memBytes)}, ${m.host.platform}, Node ${m.host.node}, ${m.host.hostname}`,
    ],
    ['Tool', `${m.tool.name} ${m.tool.version}`],
  ];
  for (const [k, v] of Object.entries(m.scenario.parameters ?? {})) kv.push([`parameter ${k}`, json(v)]);
  if (analysis) kv.push(['Analysis settings', json(analysis.settings)]);
  for (const [k, f] of Object.entries(m.artifacts ?? {}))
    kv.push([`artifact ${k}`, SAFE_LINK.test(f) ? html`<a href="${f}">${f}</a>` : html`<code>${f}</code>`]);
  // The analysis repeats the reader's warnings and adds its own.
  const warnings = analysis ? analysis.warnings : run.warnings;
  return html`<section class="params"><h2>${heading}</h2>
${kvTable(kv)}
<h3>Phases</h3>${table(
    ['Phase', 'Start (s)', 'End (s)', 'Steady', 'Transport', 'Load'],
    m.phases.map((p) => [
      p.name,
      num((p.startMs / 1000).toFixed(1)),
      num((p.endMs / 1000).toFixed(1)),
      p.steady ? 'yes' : 'no',
      p.transport,
      json(p.load),
    ]),
  )}
${
  m.snapshots.length
    ? html`<h3>Heap snapshots</h3>${table(
        ['Label', 'File', 'Phase', 'At (s)', 'Size', 'Capture (ms)', 'Isolate'],
        m.snapshots.map((s) => [
          s.label,
          html`<code>${s.file}</code>`,
          s.phase,
          num((s.tMs / 1000).toFixed(1)),
          num(formatBytes(s.bytes)),
          num(fmtCount(s.captureMs)),
          s.isolate,
        ]),
      )}`
    : ''
}
${warnings.length ? html`<h3>Warnings</h3><ul>${warnings.map((w) => html`<li>${w}</li>`)}</ul>` : ''}
</section>`;
}

// ---- comparison ----

export interface ComparedRun {
  readonly label: string;
  readonly run: RunData;
  readonly analysis: Analysis | undefined;
  /** Peaks per series key from the samples, for runs without an analysis. */
  readonly peaks: ReadonlyMap<string, { value: number; unit: SeriesUnit; label: string }>;
}

/** Per series: growth per request A vs B, peak A vs B, verdict A → B. */
export function whatChangedSection(a: ComparedRun, b: ComparedRun): SafeHtml {
  const keys = [
    ...new Set([
      ...(a.analysis?.series ?? []).map((s) => s.key as string),
      ...(b.analysis?.series ?? []).map((s) => s.key as string),
      ...a.peaks.keys(),
      ...b.peaks.keys(),
    ]),
  ];
  const find = (r: ComparedRun, k: string): SeriesAnalysis | undefined => r.analysis?.series.find((s) => s.key === k);
  const rows = keys.map((k) => {
    const sa = find(a, k);
    const sb = find(b, k);
    const unit: SeriesUnit = sa?.unit ?? sb?.unit ?? a.peaks.get(k)?.unit ?? b.peaks.get(k)?.unit ?? 'count';
    const label = capitalize(sa?.label ?? sb?.label ?? a.peaks.get(k)?.label ?? b.peaks.get(k)?.label ?? k);
    const peak = (r: ComparedRun, s: SeriesAnalysis | undefined): string =>
      fmtValue(s?.peak ?? r.peaks.get(k)?.value, unit);
    const changed = sa && sb && sa.verdict !== sb.verdict;
    return html`<tr class="${changed ? 'changed' : ''}"><td>${label}</td><td class="n">${fmtRate(sa?.perRequest, unit, 'request')}</td><td class="n">${fmtRate(sb?.perRequest, unit, 'request')}</td><td class="n">${peak(a, sa)}</td><td class="n">${peak(b, sb)}</td><td>${sa || sb ? html`${verdictBadge(sa?.verdict)} → ${verdictBadge(sb?.verdict)}` : html`<span class="note">not analysed</span>`}</td></tr>`;
  });
  return html`<section><h2>What changed</h2>
<div class="tw"><table class="changed wide"><thead><tr><th>Series</th><th class="n">Growth per request, ${a.label}</th><th class="n">Growth per request, ${b.label}</th><th class="n">Peak, ${a.label}</th><th class="n">Peak, ${b.label}</th><th>Verdict ${a.label} → ${b.label}</th></tr></thead><tbody>${rows}</tbody></table></div></section>`;
}
