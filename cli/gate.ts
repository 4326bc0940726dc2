/** `leakscope gate`: argument parsing and printing over analyzer/gate. */
import { LsError } from '../common/errors.js';
import { modeSchema } from '../common/mode.js';
import { asFlags, validate } from '../common/validate.js';
import { bool, type Command, type CommandIo, type ParsedArgs, str } from './command.js';
import { renderGateSummary } from './gate-format.js';
import { writeOptionFile } from './output-file.js';

/** --scenario NAME --mode M: run the scenario against a spawned reference server first; returns its run directory. */
async function runForGate(a: ParsedArgs, io: CommandIo): Promise<string> {
  const scenario = str(a, 'scenario')!;
  const mode = validate(modeSchema, str(a, 'mode') ?? 'patched', asFlags('mode'));
  io.stderr.write(`leakscope gate: running scenario '${scenario}' against a ${mode} reference server…\n`);
  const { runScenario } = await import('../scenarios/runner.js');
  const out = await runScenario({
    scenario,
    target: { kind: 'spawn', mode },
    ...(str(a, 'out') ? { out: str(a, 'out')! } : {}),
    onEvent: (line) => io.stderr.write(`${line}\n`),
  });
  if (out.manifest.status === 'failed' || out.manifest.status === 'interrupted') {
    throw new LsError(
      'LS_ERR_BAD_RUN',
      `scenario '${scenario}' did not run to completion (${out.manifest.status}${out.manifest.error ? `: ${out.manifest.error}` : ''}); run directory ${out.dir}`,
    );
  }
  return out.dir;
}

export const gateCommand: Command = {
  name: 'gate',
  summary: 'CI gate: check a run against a budget (exit 0 pass, 1 fail, 2 bad input, 3 not enough data)',
  usage:
    'gate RUN_DIR [--budget budget.json] [--junit FILE] [--json]  |  gate --scenario NAME --mode leaky|patched [--out DIR] [...]',
  description:
    'Analyses the run (writing analysis.json into it) and checks it against a budget: no series may be a LEAK, growth per request within bounds at the budget confidence, threads must not follow in-flight load and must come back down, at most 1% errors in steady phases (load shedding not counted)… (see docs/gate.md; the default budget applies without --budget). With --scenario the scenario is run first against a spawned reference server.',
  options: {
    budget: { type: 'string', arg: 'FILE', description: 'budget JSON (default: the built-in budget, docs/gate.md)' },
    junit: { type: 'string', arg: 'FILE', description: 'also write JUnit XML (one testcase per check)' },
    json: { type: 'boolean', description: 'print the machine-readable result instead of the summary' },
    scenario: {
      type: 'string',
      arg: 'NAME',
      description: 'run this scenario first (built-in name or file) instead of reading RUN_DIR',
    },
    mode: {
      type: 'string',
      arg: 'MODE',
      description: 'with --scenario: reference server mode, leaky or patched (default patched)',
    },
    out: {
      type: 'string',
      arg: 'DIR',
      description: 'with --scenario: run directory (default runs/<scenario>-<mode>-<time>)',
    },
    'no-heap': { type: 'boolean', description: 'skip heap-snapshot analysis (faster; no culprit)' },
  },
  examples: [
    'leakscope gate runs/shuffled-input-patched-20261128T150000',
    'leakscope gate runs/x --budget budget.json --junit gate.xml',
    'leakscope gate --scenario shuffled-input --mode patched --junit gate.xml',
  ],
  async run(a, io) {
    const { gateRun } = await import('../pipeline/gate-run.js');
    const { gateJunit } = await import('../analyzer/junit.js');
    const { GATE_EXIT } = await import('../analyzer/gate.js');
    const scenario = str(a, 'scenario');
    if (scenario !== undefined && a.positionals.length)
      throw new LsError('LS_ERR_USAGE', 'give either RUN_DIR or --scenario, not both');
    if (scenario === undefined && a.positionals.length !== 1)
      throw new LsError(
        'LS_ERR_USAGE',
        `expected one RUN_DIR (or --scenario NAME), got ${a.positionals.length} argument(s)`,
      );
    if (scenario === undefined && (str(a, 'mode') !== undefined || str(a, 'out') !== undefined))
      throw new LsError('LS_ERR_USAGE', '--mode and --out go with --scenario');
    const budgetFile = str(a, 'budget');
    const dir = scenario !== undefined ? await runForGate(a, io) : a.positionals[0]!;
    const { result, warning } = await gateRun(dir, {
      ...(budgetFile ? { budgetFile } : {}),
      heap: !bool(a, 'no-heap'),
    });
    if (warning) io.stderr.write(`leakscope gate: warning: ${warning}\n`);
    const junit = str(a, 'junit');
    if (junit) await writeOptionFile('--junit', junit, gateJunit(result));
    io.stdout.write(bool(a, 'json') ? `${JSON.stringify(result, null, 2)}\n` : renderGateSummary(result));
    return GATE_EXIT[result.outcome];
  },
};
