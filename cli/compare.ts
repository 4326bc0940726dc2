/** `leakscope compare`: leaky vs patched, side by side, with verdicts and gates. */

import { builtinScenarios } from '../scenarios/scenario.js';
import { type Command, str } from './command.js';
import { overridesFrom, progressPrinter, runFlags, runOptions } from './run.js';

export const compareCommand: Command = {
  name: 'compare',
  summary: 'Run scenarios against leaky and patched servers; report both side by side and gate them',
  usage: 'compare [SCENARIO...] [--out DIR] [--budget FILE] [--requests N | --duration S] [--rate R]',
  description:
    `Scenarios: built-ins (${builtinScenarios().join(', ')}) or files; default shuffled-input and traffic-spike.\n` +
    'Each runs against a spawned leaky server and a spawned patched one; both runs are analysed\n' +
    '(analysis.json), gated (default budget, or --budget) and reported side by side. Writes\n' +
    'DIR/index.html (default ./reports/compare-<time>/ in the working directory) with one\n' +
    'comparison per scenario; the runs go to ./runs/.\n' +
    'Exit 0 when every patched run passes its gate, 1 when one fails, 2 on bad input.',
  options: {
    out: runOptions.out,
    budget: {
      type: 'string',
      description: 'Budget JSON for the gates (see docs/gate.md); default: the built-in budget',
      arg: 'FILE',
    },
    requests: runOptions.requests,
    duration: runOptions.duration,
    rate: runOptions.rate,
    permutations: runOptions.permutations,
    transport: runOptions.transport,
    interval: runOptions.interval,
  },
  examples: [
    'leakscope compare',
    'leakscope compare shuffled-input --duration 10',
    'leakscope compare soak hot-reload --budget budget.json',
  ],
  async run(args, io) {
    const { loadBudget } = await import('../analyzer/budget.js');
    const { compareScenarios } = await import('../pipeline/compare.js');
    const budgetFile = str(args, 'budget');
    const budget = budgetFile ? loadBudget(budgetFile) : undefined;
    const abort = new AbortController();
    const onInt = () => {
      io.stderr.write('\ninterrupted: stopping after the current run\n');
      abort.abort();
    };
    process.on('SIGINT', onInt);
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    try {
      const out = await compareScenarios({
        scenarios: args.positionals,
        overrides: overridesFrom(runFlags(args)),
        ...(str(args, 'out') ? { out: str(args, 'out')! } : {}),
        ...(budget ? { budget, budgetName: budgetFile } : {}),
        signal: abort.signal,
        onProgress: progressPrinter(io, tty),
        onEvent: (line) => io.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`),
      });
      io.stdout.write(`\nleakscope compare — ${out.comparisons.length} scenario(s), ${Math.round(out.seconds)} s\n`);
      for (const c of out.comparisons) {
        for (const [mode, m] of [
          ['leaky', c.leaky],
          ['patched', c.patched],
        ] as const) {
          io.stdout.write(
            `  ${c.scenario.padEnd(16)} ${mode.padEnd(8)} ${(m.analysis?.overall.verdict ?? m.status).padEnd(17)} gate ${m.gate ? (m.gate.pass ? 'PASS' : 'FAIL') : '–'}  ${m.analysis?.overall.headline ?? ''}\n`,
          );
        }
      }
      io.stdout.write(`\nreport: ${out.index}\n`);
      const caught = out.comparisons.filter((c) => c.leaky.gate?.pass === false).map((c) => c.scenario);
      const held = out.comparisons.filter((c) => c.patched.gate?.pass === true).map((c) => c.scenario);
      io.stdout.write(
        `gate on leaky: fails in ${caught.length ? caught.join(', ') : 'no scenario'}${caught.length < out.comparisons.length ? ' (a scenario that does not trigger a leak passes on either server)' : ''}\n`,
      );
      io.stdout.write(
        `gate on patched: ${
          out.patchedPass
            ? 'passes in every scenario — the fixes hold'
            : `FAILS in ${out.comparisons
                .filter((c) => !held.includes(c.scenario))
                .map((c) => c.scenario)
                .join(', ')}`
        }\n`,
      );
      return out.patchedPass ? 0 : 1;
    } finally {
      process.off('SIGINT', onInt);
    }
  },
};
