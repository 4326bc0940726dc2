/**
 * The HTML report: reads one or two run directories, analyses them (or takes their
 * analyses from the caller), and writes `index.html` plus a PNG copy of every chart into
 * the output folder.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { Analysis } from '../common/analysis-format.js';
import { LsError } from '../common/errors.js';
import { analyzeRun } from '../analyzer/analyze-run.js';
import { readRun, type RunData } from '../analyzer/run-reader.js';
import { renderChartPng } from './chart-png.js';
import { buildComparisonReport, buildRunReport } from './html-report.js';

/** How a run gets its analysis; undefined renders the run data alone. */
export type AnalyzeFn = (run: RunData) => Analysis | undefined | Promise<Analysis | undefined>;

export interface WriteReportOptions {
  /**
   * Default: analyzeRun, not stored. `leakscope report` stores analysis.json too
   * (pipeline/report-runs.ts).
   */
  readonly analyze?: AnalyzeFn;
  /** false skips the PNG copies. */
  readonly png?: boolean;
}

export interface WrittenReport {
  readonly outDir: string;
  readonly html: string;
  readonly pngs: readonly string[];
  /** Per run; undefined when the run was rendered without an analysis. */
  readonly analyses: readonly (Analysis | undefined)[];
}

/**
 * Writes the report of one run, or the comparison of two, to `outDir`
 * (`leakscope report` is pipeline/report-runs.ts, which also stores each analysis).
 * @example const r = await writeReport(['runs/soak-leaky-1'], 'runs/soak-leaky-1/report'); r.html
 */
export async function writeReport(
  runDirs: readonly string[],
  outDir: string,
  opts: WriteReportOptions = {},
): Promise<WrittenReport> {
  if (runDirs.length < 1 || runDirs.length > 2)
    throw new LsError('LS_ERR_USAGE', `a report takes one or two run directories, got ${runDirs.length}`);
  const analyze = opts.analyze ?? ((run: RunData) => analyzeRun(run));
  const runs = runDirs.map((d) => readRun(d));
  const analyses = await Promise.all(runs.map(async (r) => await analyze(r)));
  const built =
    runs.length === 1
      ? buildRunReport(runs[0]!, analyses[0])
      : buildComparisonReport(runs[0]!, analyses[0], runs[1]!, analyses[1]);
  const out = resolve(outDir);
  await mkdir(out, { recursive: true });
  const htmlFile = join(out, 'index.html');
  await writeFile(htmlFile, built.html);
  const pngs: string[] = [];
  if (opts.png !== false) {
    for (const c of built.charts) {
      const f = join(out, `${c.id}.png`);
      await writeFile(f, await renderChartPng(c));
      pngs.push(f);
    }
  }
  return { outDir: out, html: htmlFile, pngs, analyses };
}
