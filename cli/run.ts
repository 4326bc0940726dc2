/** `leakscope run`: replay a scenario against a target and write a run directory. */
import { constants as osConstants } from 'node:os';
import { LsError } from '../common/errors.js';
import type { RunProgress, TargetChoice } from '../scenarios/runner.js';
import { builtinScenarios, type ScenarioOverrides } from '../scenarios/scenario.js';
import { formatBytes } from '../common/format-numbers.js';
import { modeSchema } from '../common/mode.js';
import { asFlags, matching, numeric, oneOf, v, validate } from '../common/validate.js';
import { phaseSummaryLine } from './phase-summary.js';
import { bool, type Command, type CommandIo, type ParsedArgs, str, stringOption } from './command.js';

const s = stringOption;

/** The signals that stop a run in order (exit 128 + the signal's number: 130 for Ctrl-C). */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const positive = (integer: boolean) => v.optional(numeric({ min: 0, aboveMin: true, integer }));

/** The values of `run`'s flags that are numbers or choices (addresses and paths are checked where used). */
const runFlagsSchema = v.object({
  mode: v.optional(modeSchema),
  transport: v.optional(oneOf(['grpc', 'rest'])),
  requests: positive(true),
  duration: positive(false),
  rate: positive(false),
  permutations: positive(true),
  interval: positive(true),
  'gc-settled': v.optional(numeric({ min: 0, integer: true })),
  seed: v.optional(
    numeric({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER, integer: true, what: 'an integer' }),
  ),
  pid: v.optional(numeric({ min: 1, integer: true, what: 'a process id' })),
  target: v.optional(matching(/^(grpc|https?):\/\//, 'grpc://host:port or http://host:port')),
});

/** `run`'s numeric and choice flags, validated. */
export type RunFlags = ReturnType<typeof runFlags>;

/** Validates the flags of `run` (and `compare`, which shares the sizing ones) once per command. */
export const runFlags = (a: ParsedArgs) => validate(runFlagsSchema, a.values, asFlags());

/** Builds the target choice from --mode/--fixes or --target/--http/--pid/--prometheus/--inspect. */
export function targetChoice(a: ParsedArgs, f: RunFlags): TargetChoice {
  const external = ['target', 'http', 'inspect', 'prometheus', 'pid'].filter((k) => str(a, k) !== undefined);
  const spawnFlags = ['mode', 'fixes'].filter((k) => str(a, k) !== undefined);
  if (external.length && spawnFlags.length)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--${spawnFlags[0]} chooses a spawned reference server and cannot be combined with --${external[0]} (an external target)`,
    );
  if (!external.length) {
    // The mode and fix list are checked by the run itself (run-target.ts' checkTargetChoice),
    // before a run folder is made or a server spawned.
    return {
      kind: 'spawn',
      ...(f.mode ? { mode: f.mode } : {}),
      ...(str(a, 'fixes') !== undefined ? { fixes: str(a, 'fixes')! } : {}),
    };
  }
  let grpc: string | undefined;
  let http = str(a, 'http');
  if (f.target?.startsWith('grpc://')) grpc = f.target;
  else if (f.target !== undefined) http ??= f.target;
  if (!grpc && !http && !str(a, 'inspect'))
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--pid/--prometheus need a target to load: --target grpc://host:port and/or --http http://host:port',
    );
  return {
    kind: 'external',
    ...(grpc ? { grpc } : {}),
    ...(http ? { http } : {}),
    ...(f.pid !== undefined ? { pid: f.pid } : {}),
    ...(str(a, 'prometheus') ? { prometheus: str(a, 'prometheus')! } : {}),
    ...(str(a, 'inspect') ? { inspect: str(a, 'inspect')! } : {}),
    ...(str(a, 'model') ? { modelName: str(a, 'model')! } : {}),
  };
}

export function overridesFrom(f: RunFlags): ScenarioOverrides {
  if (f.requests !== undefined && f.duration !== undefined)
    throw new LsError('LS_ERR_INVALID_OPTION', '--requests and --duration both size the run; give one');
  return {
    ...(f.requests !== undefined ? { requests: f.requests } : {}),
    ...(f.duration !== undefined ? { durationS: f.duration } : {}),
    ...(f.rate !== undefined ? { rate: f.rate } : {}),
    ...(f.permutations !== undefined ? { permutations: f.permutations } : {}),
    ...(f.interval !== undefined ? { sampleIntervalMs: f.interval } : {}),
    ...(f.transport ? { transport: f.transport } : {}),
  };
}

const bytes = (b?: number) => (b === undefined ? '–' : formatBytes(b));

/** A progress line: redrawn in place on a terminal, plain lines otherwise. */
export function progressPrinter(io: CommandIo, tty: boolean): (p: RunProgress) => void {
  let lastPlain = 0;
  return (p) => {
    const line = `[${p.phaseIndex + 1}/${p.phases}] ${p.phase}: ${p.completed}/${p.planned} requests${p.dropped ? `, ${p.dropped} dropped` : ''}${p.errors ? `, ${p.errors} errors` : ''} · ${p.elapsedS.toFixed(0)} s${p.last ? ` · RSS ${bytes(p.last.rssBytes)} · threads ${p.last.threads ?? '–'}${p.last.cacheEntries !== undefined ? ` · cache ${p.last.cacheEntries}` : ''}` : ''}`;
    if (tty) io.stderr.write(`\r\x1b[2K${line}`);
    else if (p.elapsedS - lastPlain >= 5) {
      lastPlain = p.elapsedS;
      io.stderr.write(`${line}\n`);
    }
  };
}

export const runOptions = {
  mode: s('Spawn the reference server: leaky or patched (default patched)', 'MODE'),
  fixes: s('Spawn the reference server with these fixes only (comma-separated)', 'LIST'),
  target: s('External target: grpc://host:port (TF Serving API) or http://host:port', 'URL'),
  http: s("External target's HTTP/REST address, http://host:port", 'URL'),
  pid: s('Process id of the external target, sampled from /proc', 'PID'),
  prometheus: s('Prometheus metrics URL of the external target', 'URL'),
  inspect: s('host:port of a Node.js --inspect endpoint to sample and snapshot', 'HOST:PORT'),
  model: s('Model name on an external TF Serving target (default ctr)', 'NAME'),
  requests: s('Total requests of the steady phases (split in proportion)', 'N'),
  duration: s('Total seconds of the steady phases (split in proportion)', 'S'),
  rate: s('Arrival rate of the steady phases, requests/s', 'R'),
  permutations: s('K distinct input orders for phases that shuffle them', 'K'),
  transport: s('grpc or rest, for the TF Serving phases', 'T'),
  interval: s('Sample interval in ms (default 250)', 'MS'),
  'gc-settled': s('Force a GC before every Nth sample (spawned targets start with --expose-gc)', 'N'),
  'no-snapshots': { type: 'boolean' as const, description: 'Skip heap snapshots' },
  'allocation-sampling': {
    type: 'boolean' as const,
    description:
      'Record V8 allocation sampling over the steady phases (.heapprofile; on by default when the target allows it: spawned servers, --inspect)',
  },
  'no-allocation-sampling': {
    type: 'boolean' as const,
    description: 'Do not record allocation sampling (culprits then name no allocation site)',
  },
  out: s('Run directory (default runs/<scenario>-<mode>-<time>)', 'DIR'),
  clinic: s(
    'Run the spawned server under Clinic.js 13 (doctor or heapprofiler; the devDependency, $LEAKSCOPE_CLINIC or PATH): the run waits for its report, checks it is whole, and links it (manifest: clinic.status)',
    'TOOL',
  ),
  seed: s('Seed for input orders, values and Poisson arrivals (default 1)', 'N'),
} as const;

export const runCommand: Command = {
  name: 'run',
  summary: 'Replay a scenario against a server while sampling memory and threads',
  usage:
    'run SCENARIO [--mode leaky|patched | --fixes LIST | --target URL [--pid PID] | --inspect HOST:PORT] [options]',
  description:
    `SCENARIO is a built-in (${builtinScenarios().join(', ')}) or a scenario file (.yaml/.json).\n` +
    'Without a target, the reference server is started on free loopback ports and stopped at the end.\n' +
    'Writes a run directory (manifest.json, samples.ndjson, results.json, snapshots/), its manifest\n' +
    'kept up to date as each phase starts and ends. Ctrl-C (or SIGTERM, SIGHUP) stops the run, keeps\n' +
    'what was measured and marks it interrupted (exit 130, 143, 129); a second one stops faster.\n' +
    'Exit 2 on bad input or a target that cannot be reached or dies.\n' +
    'Request templates (http and grpc-generic phases): {{i}} is the request index within its phase\n' +
    '(0 at each phase start), {{n}} the index within the whole run (never repeats across phases);\n' +
    'also {{randInt MIN MAX}}, {{randFloat MIN MAX}}, {{choice A B ...}}, {{uuid}}, {{now}}.',
  options: runOptions,
  examples: [
    'leakscope run shuffled-input --mode leaky',
    'leakscope run traffic-spike --mode patched --out runs/spike-patched',
    'leakscope run soak --target grpc://127.0.0.1:8500 --http http://127.0.0.1:8501 --pid 4242',
    'leakscope run my-scenario.yaml --http http://127.0.0.1:3000 --inspect 127.0.0.1:9229',
  ],
  async run(args, io) {
    // Loaded when the command runs, so other commands (serve above all) do not carry it.
    const { runScenario } = await import('../scenarios/runner.js');
    if (args.positionals.length !== 1)
      throw new LsError(
        'LS_ERR_USAGE',
        `expected one scenario (built-in: ${builtinScenarios().join(', ')}) or a scenario file`,
      );
    const flags = runFlags(args);
    const { 'gc-settled': gcEvery, seed } = flags;
    const abort = new AbortController();
    const hurry = new AbortController();
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    // SIGINT, SIGTERM, SIGHUP: one orderly stop that keeps what was measured; a second signal
    // makes the same stop faster (the target is killed, not drained), never a different one.
    let stoppedBy: NodeJS.Signals | undefined;
    const onStop = (sig: NodeJS.Signals) => {
      if (stoppedBy) {
        io.stderr.write(`\n${sig} again: stopping at once; the run folder still lists what was measured\n`);
        hurry.abort();
        return;
      }
      stoppedBy = sig;
      io.stderr.write(`\n${sig}: stopping the load, keeping what was measured (Ctrl-C again to stop faster)\n`);
      abort.abort();
    };
    for (const sig of STOP_SIGNALS) process.on(sig, onStop);
    try {
      const out = await runScenario({
        scenario: args.positionals[0]!,
        overrides: overridesFrom(flags),
        target: targetChoice(args, flags),
        ...(str(args, 'out') ? { out: str(args, 'out')! } : {}),
        snapshots: !bool(args, 'no-snapshots'),
        ...(gcEvery !== undefined ? { gcSettledEvery: gcEvery } : {}),
        ...(bool(args, 'allocation-sampling') ? { allocationSampling: true } : {}),
        ...(bool(args, 'no-allocation-sampling') ? { allocationSampling: false } : {}),
        ...(str(args, 'clinic') ? { clinic: str(args, 'clinic')! } : {}),
        ...(seed !== undefined ? { seed } : {}),
        signal: abort.signal,
        hurry: hurry.signal,
        onProgress: progressPrinter(io, tty),
        onEvent: (line) => io.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`),
      });
      const m = out.manifest;
      io.stdout.write(`${tty ? '\n' : ''}run ${m.status}: ${out.dir}\n`);
      for (const r of out.results) {
        io.stdout.write(`  ${phaseSummaryLine(r)}\n`);
      }
      io.stdout.write(`  ${out.sampleCount} samples, ${m.snapshots.length} heap snapshots\n`);
      if (m.status === 'interrupted') return 128 + (osConstants.signals[stoppedBy ?? 'SIGINT'] ?? 2);
      if (m.status !== 'complete') {
        io.stderr.write(`leakscope run: ${m.error}\n`);
        return 2;
      }
      return 0;
    } finally {
      for (const sig of STOP_SIGNALS) process.off(sig, onStop);
    }
  },
};
