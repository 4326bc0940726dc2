/**
 * `leakscope report RUN_DIR [RUN_DIR_B]`: analyse each run, store its analysis.json (one
 * policy for a read-only folder, see analyse-and-save.ts), and write the HTML report.
 */
import { resolve } from 'node:path';
import { stamp } from '../common/time-stamp.js';
import { writeReport, type WriteReportOptions, type WrittenReport } from '../reports/write-report.js';
import { analyseAndSave } from './analyse-and-save.js';

export interface ReportRunsOutcome extends WrittenReport {
  /** analysis.json files that could not be stored (the report still carries the analyses). */
  readonly warnings: readonly string[];
}

/**
 * Where a comparison goes by default: `reports/compare-<time>/` under the working
 * directory (like `runs/`), never beside the installed package.
 */
export const defaultCompareDir = (cwd = process.cwd()): string => resolve(cwd, 'reports', `compare-${stamp()}`);

/**
 * Analyses and saves each run, then writes the report of one run or the comparison of two.
 * Equals `leakscope report RUN_DIR [RUN_DIR_B] --out DIR`.
 * @example const r = await reportRuns(['runs/soak-leaky-1'], 'runs/soak-leaky-1/report'); r.html
 */
export async function reportRuns(
  runDirs: readonly string[],
  outDir: string,
  opts: Omit<WriteReportOptions, 'analyze'> = {},
): Promise<ReportRunsOutcome> {
  const warnings: string[] = [];
  const written = await writeReport(runDirs, outDir, {
    ...opts,
    analyze: async (run) => {
      const { analysis, warning } = await analyseAndSave(run);
      if (warning) warnings.push(warning);
      return analysis;
    },
  });
  return { ...written, warnings };
}
