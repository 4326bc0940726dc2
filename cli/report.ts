/** `leakscope report RUN_DIR [RUN_DIR_B] [--out DIR]`: parsing and printing over reports/write-report. */
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import { bool, type Command, str } from './command.js';

export const reportCommand: Command = {
  name: 'report',
  summary: 'HTML report of a run, or of two runs side by side, with PNG charts',
  usage: 'report RUN_DIR [RUN_DIR_B] [--out DIR] [--no-png]',
  description:
    'Writes DIR/index.html (self-contained: open it without a network) and a PNG of every chart beside it. With two run directories (e.g. leaky and patched of one scenario) the runs are shown side by side on shared axes with a table of what changed. Default DIR: RUN_DIR/report for one run, ./reports/compare-<time> in the working directory for two.',
  options: {
    out: { type: 'string', short: 'o', arg: 'DIR', description: 'folder to write index.html and the PNGs into' },
    'no-png': { type: 'boolean', description: 'write the HTML only' },
  },
  examples: [
    'leakscope report runs/shuffled-input-leaky-20261128T150000',
    'leakscope report runs/soak-leaky-1 runs/soak-patched-1 --out /tmp/cmp',
  ],
  async run(a, io) {
    const { defaultCompareDir, reportRuns } = await import('../pipeline/report-runs.js');
    const dirs = a.positionals;
    if (dirs.length < 1 || dirs.length > 2)
      throw new LsError(
        'LS_ERR_USAGE',
        `expected RUN_DIR [RUN_DIR_B], got ${dirs.length} argument(s) (see: leakscope report --help)`,
      );
    const out = str(a, 'out') ?? (dirs.length === 1 ? join(dirs[0]!, 'report') : defaultCompareDir());
    const r = await reportRuns(dirs, out, { png: !bool(a, 'no-png') });
    for (const w of r.warnings) io.stderr.write(`leakscope report: warning: ${w}\n`);
    r.analyses.forEach((an, i) => {
      if (!an) return;
      io.stdout.write(`${dirs.length > 1 ? `${'AB'[i]}: ` : ''}${an.overall.verdict}: ${an.overall.headline}\n`);
      const c = an.overall.culprit;
      if (c?.source) io.stdout.write(`  culprit code: ${c.source}\n`);
      if (c?.readablePath) io.stdout.write(`  culprit path: ${c.readablePath}\n`);
    });
    io.stdout.write(`report: ${r.html}\n${r.pngs.length ? `charts: ${r.pngs.length} PNG files in ${r.outDir}\n` : ''}`);
    return 0;
  },
};
