/**
 * `leakscope compare`: run scenarios against a spawned leaky and a spawned patched
 * reference server, analyse both runs, gate both, and write one report folder with a
 * side-by-side comparison per scenario and an index page — the demo users run first.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Analysis } from '../common/analysis-format.js';
import { MODES, type Mode } from '../common/mode.js';
import { DEFAULT_BUDGET, type Budget } from '../analyzer/budget.js';
import { evaluateGate, type GateResult } from '../analyzer/gate.js';
import { html, type SafeHtml } from '../reports/html-escape.js';
import { runScenario, type RunOptions } from '../scenarios/runner.js';
import type { ScenarioOverrides } from '../scenarios/scenario.js';
import { defaultCompareDir, reportRuns } from './report-runs.js';

export const DEFAULT_COMPARE_SCENARIOS = ['shuffled-input', 'traffic-spike'] as const;

export interface CompareOptions {
  readonly scenarios?: readonly string[];
  readonly overrides?: ScenarioOverrides;
  /** Report folder; default reports/compare-<time>/ under the working directory. */
  readonly out?: string;
  /** Where the runs go; default runs/ under the working directory. */
  readonly runsRoot?: string;
  readonly budget?: Budget;
  readonly budgetName?: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: RunOptions['onProgress'];
  readonly onEvent?: (line: string) => void;
}

export interface ModeOutcome {
  readonly runDir: string;
  readonly status: string;
  readonly analysis: Analysis | undefined;
  readonly gate: GateResult | undefined;
}

export interface ScenarioComparison {
  readonly scenario: string;
  readonly leaky: ModeOutcome;
  readonly patched: ModeOutcome;
  readonly reportDir: string;
}

export interface CompareOutcome {
  readonly outDir: string;
  readonly index: string;
  readonly comparisons: readonly ScenarioComparison[];
  readonly seconds: number;
  /** The fixes worked: every patched run passed its gate. */
  readonly patchedPass: boolean;
  /** The leaks were caught: every leaky run failed its gate. */
  readonly leakyFail: boolean;
}

function indexPage(cmp: readonly ScenarioComparison[], seconds: number, budget: string): string {
  const cell = (m: ModeOutcome): SafeHtml =>
    html`<td class="${m.gate?.pass ? 'pass' : 'fail'}"><b>${m.analysis?.overall.verdict ?? m.status}</b> · gate ${m.gate ? (m.gate.pass ? 'PASS' : 'FAIL') : '–'}<br><small>${m.analysis?.overall.headline ?? ''}</small></td>`;
  const rows = cmp.map(
    (c) =>
      html`<tr><th><a href="${`${encodeURIComponent(c.scenario)}/index.html`}">${c.scenario}</a></th>${cell(c.leaky)}${cell(c.patched)}</tr>`,
  );
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'"><title>leakscope — leaky vs patched</title>
<style>body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:70rem;color:#1d2330}table{border-collapse:collapse;width:100%}th,td{border:1px solid #d6dbe4;padding:.6rem;text-align:left;vertical-align:top}td.pass{background:#eaf7ee}td.fail{background:#fdecec}small{color:#4a5568}</style></head>
<body><h1>leakscope: leaky vs patched</h1><p>Each scenario ran against the reference server twice: with both production leaks (leaky) and with every upstream fix (patched). Gate: ${budget} budget. Total ${Math.round(seconds)} s. Open a scenario for its side-by-side report: charts on shared axes, verdicts, heap culprits.</p>
<table><thead><tr><th>scenario</th><th>leaky</th><th>patched</th></tr></thead><tbody>${rows}</tbody></table></body></html>`
    .value;
}

/**
 * Runs each scenario leaky and patched, analyses, gates and reports them.
 * Equals `leakscope compare [SCENARIO...]`.
 * @example const r = await compareScenarios({ scenarios: ['shuffled-input'] }); r.index
 */
export async function compareScenarios(o: CompareOptions = {}): Promise<CompareOutcome> {
  const t0 = performance.now();
  const scenarios = o.scenarios?.length ? o.scenarios : DEFAULT_COMPARE_SCENARIOS;
  const outDir = o.out !== undefined ? resolve(o.out) : defaultCompareDir();
  const budget = o.budget ?? DEFAULT_BUDGET;
  const emit = o.onEvent ?? (() => undefined);
  const comparisons: ScenarioComparison[] = [];
  for (const scenario of scenarios) {
    const modes: Record<Mode, ModeOutcome> = {} as never;
    for (const mode of MODES) {
      emit(`== ${scenario} against the ${mode} server`);
      const run = await runScenario({
        scenario,
        target: { kind: 'spawn', mode },
        ...(o.overrides ? { overrides: o.overrides } : {}),
        ...(o.runsRoot ? { runsRoot: o.runsRoot } : {}),
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.onProgress ? { onProgress: o.onProgress } : {}),
        onEvent: emit,
      });
      modes[mode] = { runDir: run.dir, status: run.manifest.status, analysis: undefined, gate: undefined };
      if (o.signal?.aborted) break;
    }
    if (!modes.leaky || !modes.patched) break;
    const reportDir = join(outDir, scenario);
    emit(`analysing and reporting ${scenario}…`);
    const written = await reportRuns([modes.leaky.runDir, modes.patched.runDir], reportDir);
    for (const w of written.warnings) emit(`warning: ${w}`);
    for (const [i, mode] of MODES.entries()) {
      const analysis = written.analyses[i];
      modes[mode] = {
        ...modes[mode],
        analysis,
        gate: analysis ? evaluateGate(analysis, budget, o.budgetName ?? 'default') : undefined,
      };
    }
    comparisons.push({ scenario, leaky: modes.leaky, patched: modes.patched, reportDir });
    if (o.signal?.aborted) break;
  }
  const seconds = (performance.now() - t0) / 1000;
  await mkdir(outDir, { recursive: true });
  const index = join(outDir, 'index.html');
  await writeFile(index, indexPage(comparisons, seconds, o.budgetName ?? 'default'));
  return {
    outDir,
    index,
    comparisons,
    seconds,
    patchedPass: comparisons.every((c) => c.patched.gate?.pass === true),
    leakyFail: comparisons.every((c) => c.leaky.gate?.pass === false),
  };
}
