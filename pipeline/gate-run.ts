/**
 * `leakscope gate RUN_DIR`: read a run, analyse it and store analysis.json (one policy for
 * a read-only folder, see analyse-and-save.ts), then check it against a budget.
 */
import type { Analysis } from '../common/analysis-format.js';
import { DEFAULT_BUDGET, loadBudget } from '../analyzer/budget.js';
import { evaluateGate, type GateResult } from '../analyzer/gate.js';
import { readRun } from '../analyzer/run-reader.js';
import { type AnalyseAndSaveOptions, analyseAndSave } from './analyse-and-save.js';

export interface GateOptions extends AnalyseAndSaveOptions {
  /** Budget file; default DEFAULT_BUDGET. */
  readonly budgetFile?: string;
}

export interface GateRunOutcome {
  readonly result: GateResult;
  readonly analysis: Analysis;
  /** analysis.json could not be stored (the gate still ran on the analysis). */
  readonly warning?: string;
}

/**
 * Reads, analyses and gates a run directory: `leakscope gate RUN_DIR [--budget FILE]`.
 * Bad budget or unreadable run: LsError with exit code 2.
 * @example const r = await gateRun('runs/soak-patched-20261128T150000'); process.exitCode = r.result.pass ? 0 : 1;
 */
export async function gateRun(dir: string, opts: GateOptions = {}): Promise<GateRunOutcome> {
  // The budget first: a bad budget should fail before minutes of heap analysis.
  const budget = opts.budgetFile ? loadBudget(opts.budgetFile) : DEFAULT_BUDGET;
  const run = readRun(dir);
  const { analysis, warning } = await analyseAndSave(run, {
    ...opts,
    confidence: opts.confidence ?? budget.confidence,
  });
  return {
    result: evaluateGate(analysis, budget, opts.budgetFile ?? 'default'),
    analysis,
    ...(warning ? { warning } : {}),
  };
}
