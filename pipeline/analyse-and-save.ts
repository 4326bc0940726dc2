/**
 * Analyse a run, then store analysis.json beside its data: the one place that does both,
 * for `gate`, `report` and `compare`. One policy for a run folder that cannot be written
 * (a read-only CI artifact, another user's folder): the analysis is still returned and
 * used, and the failed write comes back as a warning naming the folder, which the
 * command prints. Nothing is swallowed and nothing fails for it.
 */
import type { Analysis } from '../common/analysis-format.js';
import { ANALYSIS_FILE } from '../common/run-format.js';
import { type AnalyzeOptions, analyzeRun, writeAnalysis } from '../analyzer/analyze-run.js';
import type { RunData } from '../analyzer/run-reader.js';

export interface AnalyseAndSaveOptions extends AnalyzeOptions {
  /** Store analysis.json into the run directory (default true). */
  readonly write?: boolean;
}

export interface SavedAnalysis {
  readonly analysis: Analysis;
  /** The analysis.json written; absent when not asked for or when the write failed. */
  readonly file?: string;
  /** Why analysis.json could not be stored (names the folder); the analysis is still valid. */
  readonly warning?: string;
}

/**
 * Analyses a run and stores analysis.json into its directory.
 * @example const { analysis, warning } = await analyseAndSave(readRun('runs/soak-leaky-1'));
 */
export async function analyseAndSave(run: RunData, opts: AnalyseAndSaveOptions = {}): Promise<SavedAnalysis> {
  const analysis = await analyzeRun(run, opts);
  if (opts.write === false) return { analysis };
  try {
    return { analysis, file: await writeAnalysis(run.dir, analysis) };
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    return {
      analysis,
      warning: `${ANALYSIS_FILE} not written into ${run.dir} (${why}); the analysis was used but not stored`,
    };
  }
}
