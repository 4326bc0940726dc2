/**
 * leakscope's library API: the functions the `leakscope` CLI calls, for scripts and services
 * that depend on the package (`import { gateRun } from 'leakscope'`).
 *
 * Each async function loads its part of the toolkit on first call, so importing this module
 * stays cheap: a CI script that only gates a run never loads onnxruntime or gRPC. Errors are
 * `LsError`s with a stable `code` (`LS_ERR_*`) and the CLI's `exitCode`.
 */
import type { HeapDiff } from './analyzer/heap/diff.js';
import type { LeakOptions, LeakReport } from './analyzer/heap/leaks.js';
import type { ParseOptions } from './analyzer/heap/snapshot-parser.js';
import type { HeapSummary, SummaryOptions } from './analyzer/heap/summary.js';
import type { AnalyseAndSaveOptions, SavedAnalysis } from './pipeline/analyse-and-save.js';
import type { CompareOptions, CompareOutcome } from './pipeline/compare.js';
import type { GateOptions, GateRunOutcome } from './pipeline/gate-run.js';
import type { ReportRunsOutcome } from './pipeline/report-runs.js';
import type { WriteReportOptions } from './reports/write-report.js';
import type { RunOptions, RunOutcome } from './scenarios/runner.js';
import type { WriteModelVersionsOptions, WrittenModel } from './wire/models/write-models.js';
import type { FleetOptions } from './fleet/analyze-fleet.js';
import type { FleetResult } from './common/fleet-format.js';

export type { Analysis, OverallVerdict, SeriesAnalysis, Verdict } from './common/analysis-format.js';
export type { RunManifest, RunResults, Sample } from './common/run-format.js';
export type { FleetResult, InstanceJudgement, CanaryResult } from './common/fleet-format.js';
export type { FleetOptions } from './fleet/analyze-fleet.js';
export type { ErrorCode } from './common/errors.js';
export type { AnalyzeOptions } from './analyzer/analyze-run.js';
export type { Budget } from './analyzer/budget.js';
export type { GateCheck, GateOutcome, GateResult } from './analyzer/gate.js';
export type { HeapDiff } from './analyzer/heap/diff.js';
export type { LeakOptions, LeakReport } from './analyzer/heap/leaks.js';
export type { ParseOptions, ProgressFn } from './analyzer/heap/snapshot-parser.js';
export type { HeapSummary, SummaryOptions } from './analyzer/heap/summary.js';
export type { RunData } from './analyzer/run-reader.js';
export type { AnalyseAndSaveOptions, SavedAnalysis } from './pipeline/analyse-and-save.js';
export type { CompareOptions, CompareOutcome, ScenarioComparison } from './pipeline/compare.js';
export type { GateOptions, GateRunOutcome } from './pipeline/gate-run.js';
export type { ReportRunsOutcome } from './pipeline/report-runs.js';
export type { WriteReportOptions, WrittenReport } from './reports/write-report.js';
export type { RunOptions, RunOutcome, RunProgress, TargetChoice } from './scenarios/runner.js';
export type { ScenarioOverrides } from './scenarios/scenario.js';
export type { WriteModelVersionsOptions, WrittenModel } from './wire/models/write-models.js';

// Small synchronous helpers load with the module.
export { LsError, isLsError } from './common/errors.js';
export { VERSION } from './common/version.js';
export { DEFAULT_BUDGET, loadBudget } from './analyzer/budget.js';
export { gateJunit } from './analyzer/junit.js';
export { readRun } from './analyzer/run-reader.js';
export { builtinScenarios } from './scenarios/scenario.js';

/**
 * Replays a scenario against a target and writes its run directory. Equals `leakscope run`.
 * @example const { dir, manifest } = await runScenario({ scenario: 'shuffled-input', target: { kind: 'spawn', mode: 'leaky' } });
 */
export async function runScenario(options: RunOptions): Promise<RunOutcome> {
  return (await import('./scenarios/runner.js')).runScenario(options);
}

/**
 * Runs each scenario against a leaky and a patched reference server, then analyses, gates and
 * reports both side by side. Equals `leakscope compare [SCENARIO...]`.
 * @example const r = await compareScenarios({ scenarios: ['shuffled-input'], overrides: { durationS: 10 } }); r.patchedPass
 */
export async function compareScenarios(options: CompareOptions = {}): Promise<CompareOutcome> {
  return (await import('./pipeline/compare.js')).compareScenarios(options);
}

/**
 * Analyses a run directory: trend verdicts per series, threads, heap snapshots, and stores
 * RUN_DIR/analysis.json — the analysis `leakscope report` and `leakscope gate` make. A folder
 * that cannot be written still gives the analysis, with a `warning` naming the folder.
 * @example const { analysis } = await analyzeRun('runs/soak-patched-20261128T150000'); analysis.overall.verdict
 */
export async function analyzeRun(runDir: string, options: AnalyseAndSaveOptions = {}): Promise<SavedAnalysis> {
  const { analyseAndSave } = await import('./pipeline/analyse-and-save.js');
  const { readRun } = await import('./analyzer/run-reader.js');
  return analyseAndSave(readRun(runDir), options);
}

/**
 * Analyses a run and checks it against a budget (default: the built-in one). Equals
 * `leakscope gate RUN_DIR [--budget FILE]`; `gateJunit(result)` is its `--junit` XML.
 * @example const { result } = await gateRun('runs/soak-patched-20261128T150000'); process.exitCode = result.pass ? 0 : 1;
 */
export async function gateRun(runDir: string, options: GateOptions = {}): Promise<GateRunOutcome> {
  return (await import('./pipeline/gate-run.js')).gateRun(runDir, options);
}

/**
 * Analyses each run (storing its analysis.json), then writes the self-contained HTML report
 * (and PNG charts) of one run, or of two side by side. Equals `leakscope report RUN_DIR [RUN_DIR_B] --out DIR`.
 * @example const { html, warnings } = await reportRuns(['runs/a', 'runs/b'], 'reports/a-vs-b');
 */
export async function reportRuns(
  runDirs: readonly string[],
  outDir: string,
  options: Omit<WriteReportOptions, 'analyze'> = {},
): Promise<ReportRunsOutcome> {
  return (await import('./pipeline/report-runs.js')).reportRuns(runDirs, outDir, options);
}

/**
 * Classes of one heap snapshot by count, self and retained size, and the objects retaining
 * most with their retainer paths. Equals `leakscope heap summary SNAPSHOT`.
 * @example const s = await heapSummary('final.heapsnapshot', { top: 10 }); s.classes[0]
 */
export async function heapSummary(file: string, options: ParseOptions & SummaryOptions = {}): Promise<HeapSummary> {
  const { analyzeSnapshot } = await import('./analyzer/heap/heap-analysis.js');
  const { summarizeHeap } = await import('./analyzer/heap/summary.js');
  return summarizeHeap(await analyzeSnapshot(file, options), options);
}

/**
 * Two snapshots of one process compared by class: new, deleted, size change.
 * Equals `leakscope heap diff BEFORE AFTER`.
 * @example const d = await heapDiff('s1.heapsnapshot', 's2.heapsnapshot', { top: 5 }); d.rows[0]
 */
export async function heapDiff(
  beforeFile: string,
  afterFile: string,
  options: ParseOptions & { readonly top?: number } = {},
): Promise<HeapDiff> {
  const { diffHeaps } = await import('./analyzer/heap/diff.js');
  const { loadClassifiedHeap } = await import('./analyzer/heap/heap-analysis.js');
  return diffHeaps(
    await loadClassifiedHeap(beforeFile, options),
    await loadClassifiedHeap(afterFile, options),
    options,
  );
}

/**
 * Leak candidates from three snapshots: allocated between baseline and target, still alive in
 * final, with retainer paths. Equals `leakscope heap leaks BASELINE TARGET FINAL`.
 * @example const r = await heapLeaks('s1.heapsnapshot', 's2.heapsnapshot', 's3.heapsnapshot'); r.groups[0]?.path
 */
export async function heapLeaks(
  baselineFile: string,
  targetFile: string,
  finalFile: string,
  options: LeakOptions = {},
): Promise<LeakReport> {
  return (await import('./analyzer/heap/leaks.js')).findLeaks(baselineFile, targetFile, finalFile, options);
}

/**
 * Writes the reference server's CTR model as ONNX files, DIR/<version>/model.onnx.
 * Equals `leakscope models build --out DIR`.
 * @example await buildModels('/tmp/models/ctr', { features: 10, versions: [1, 2] });
 */
export async function buildModels(dir: string, options: WriteModelVersionsOptions): Promise<WrittenModel[]> {
  return (await import('./wire/models/write-models.js')).writeModelVersions(dir, options);
}

/**
 * Judges every instance of a fleet from Prometheus (and a canary against its baseline).
 * Equals `leakscope fleet --prometheus URL --selector SEL --range 2h`.
 * @example const r = await analyzeFleet({ prometheus: 'http://127.0.0.1:9090', selector: '{job="serving"}', range: '2h' }); r.pass
 */
export async function analyzeFleet(options: FleetOptions): Promise<FleetResult> {
  return (await import('./fleet/analyze-fleet.js')).analyzeFleet(options);
}
