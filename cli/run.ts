/** `leakscope run`: replay a scenario against a target and write a run directory. */
import { LsError } from '../common/errors.js';
import type { RunProgress, TargetChoice } from '../scenarios/runner.js';
import { builtinScenarios, type ScenarioOverrides } from '../scenarios/scenario.js';
import { bool, type Command, type CommandIo, type ParsedArgs, str, stringOption } from './command.js';

const s = stringOption;

function positiveNumber(a: ParsedArgs, k: string, integer: boolean): number | undefined {
  const raw = str(a, k);
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isFinite(v) || v <= 0 || (integer && !Number.isInteger(v)))
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--${k}: expected a positive ${integer ? 'integer' : 'number'}, got '${raw}'`,
    );
  return v;
}

/** Builds the target choice from --mode/--fixes or --target/--http/--pid/--prometheus/--inspect. */
export function targetChoice(a: ParsedArgs): TargetChoice {
  const external = ['target', 'http', 'inspect', 'prometheus', 'pid'].filter((k) => str(a, k) !== undefined);
  const spawnFlags = ['mode', 'fixes'].filter((k) => str(a, k) !== undefined);
  if (external.length && spawnFlags.length)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--${spawnFlags[0]} chooses a spawned reference server and cannot be combined with --${external[0]} (an external target)`,
    );
  if (!external.length) {
    const mode = str(a, 'mode');
    if (mode !== undefined && mode !== 'leaky' && mode !== 'patched')
      throw new LsError('LS_ERR_INVALID_OPTION', `--mode: expected leaky or patched, got '${mode}'`);
    return {
      kind: 'spawn',
      ...(mode ? { mode } : {}),
      ...(str(a, 'fixes') !== undefined ? { fixes: str(a, 'fixes')! } : {}),
    };
  }
  const pidRaw = str(a, 'pid');
  const pid = pidRaw === undefined ? undefined : Number(pidRaw);
  if (pid !== undefined && (!Number.isInteger(pid) || pid <= 0))
    throw new LsError('LS_ERR_INVALID_OPTION', `--pid: expected a process id, got '${pidRaw}'`);
  const target = str(a, 'target');
  let grpc: string | undefined;
  let http = str(a, 'http');
  if (target?.startsWith('grpc://')) grpc = target;
  else if (target?.startsWith('http://') || target?.startsWith('https://')) http ??= target;
  else if (target !== undefined)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--target: expected grpc://host:port or http://host:port, got '${target}'`,
    );
  if (!grpc && !http && !str(a, 'inspect'))
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--pid/--prometheus need a target to load: --target grpc://host:port and/or --http http://host:port',
    );
  return {
    kind: 'external',
    ...(grpc ? { grpc } : {}),
    ...(http ? { http } : {}),
    ...(pid !== undefined ? { pid } : {}),
    ...(str(a, 'prometheus') ? { prometheus: str(a, 'prometheus')! } : {}),
    ...(str(a, 'inspect') ? { inspect: str(a, 'inspect')! } : {}),
    ...(str(a, 'model') ? { modelName: str(a, 'model')! } : {}),
  };
}

export function overridesFrom(a: ParsedArgs): ScenarioOverrides {
  const transport = str(a, 'transport');
  if (transport !== undefined && transport !== 'grpc' && transport !== 'rest')
    throw new LsError('LS_ERR_INVALID_OPTION', `--transport: expected grpc or rest, got '${transport}'`);
  const requests = positiveNumber(a, 'requests', true);
  const durationS = positiveNumber(a, 'duration', false);
  if (requests !== undefined && durationS !== undefined)
    throw new LsError('LS_ERR_INVALID_OPTION', '--requests and --duration both size the run; give one');
  const rate = positiveNumber(a, 'rate', false);
  const permutations = positiveNumber(a, 'permutations', true);
  const interval = positiveNumber(a, 'interval', true);
  return {
    ...(requests !== undefined ? { requests } : {}),
    ...(durationS !== undefined ? { durationS } : {}),
    ...(rate !== undefined ? { rate } : {}),
    ...(permutations !== undefined ? { permutations } : {}),
    ...(interval !== undefined ? { sampleIntervalMs: interval } : {}),
    ...(transport ? { transport } : {}),
  };
}

const mb = (b?: number) => (b === undefined ? '–' : `${(b / 1048576).toFixed(0)} MB`);

/** A progress line: redrawn in place on a terminal, plain lines otherwise. */
export function progressPrinter(io: CommandIo, tty: boolean): (p: RunProgress) => void {
  let lastPlain = 0;
  return (p) => {
    const line = `[${p.phaseIndex + 1}/${p.phases}] ${p.phase}: ${p.completed}/${p.planned} requests${p.dropped ? `, ${p.dropped} dropped` : ''}${p.errors ? `, ${p.errors} errors` : ''} · ${p.elapsedS.toFixed(0)} s${p.last ? ` · RSS ${mb(p.last.rssBytes)} · threads ${p.last.threads ?? '–'}${p.last.cacheEntries !== undefined ? ` · cache ${p.last.cacheEntries}` : ''}` : ''}`;
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
    description: 'Record V8 allocation sampling over the steady phases (.heapprofile)',
  },
  out: s('Run directory (default runs/<scenario>-<mode>-<time>)', 'DIR'),
  clinic: s(
    'Run the spawned server under Clinic.js (doctor or heapprofiler) when it is installed; its HTML is linked from the run',
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
    'Writes a run directory (manifest.json, samples.ndjson, results.json, snapshots/). Ctrl-C stops\n' +
    'the run, keeps what was measured and marks it interrupted (exit 130). Exit 2 on bad input or a\n' +
    'target that cannot be reached or dies.',
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
    const gc = str(args, 'gc-settled');
    const gcEvery = gc === undefined ? undefined : Number(gc);
    if (gcEvery !== undefined && (!Number.isInteger(gcEvery) || gcEvery < 0))
      throw new LsError('LS_ERR_INVALID_OPTION', `--gc-settled: expected an integer ≥ 0, got '${gc}'`);
    const seedRaw = str(args, 'seed');
    const seed = seedRaw === undefined ? undefined : Number(seedRaw);
    if (seed !== undefined && !Number.isInteger(seed))
      throw new LsError('LS_ERR_INVALID_OPTION', `--seed: expected an integer, got '${seedRaw}'`);
    const abort = new AbortController();
    const tty = (io.stderr as NodeJS.WriteStream).isTTY === true;
    let interrupts = 0;
    const onInt = () => {
      interrupts++;
      if (interrupts > 1) process.exit(130);
      io.stderr.write('\ninterrupted: stopping the load, keeping what was measured (Ctrl-C again to quit at once)\n');
      abort.abort();
    };
    process.on('SIGINT', onInt);
    try {
      const out = await runScenario({
        scenario: args.positionals[0]!,
        overrides: overridesFrom(args),
        target: targetChoice(args),
        ...(str(args, 'out') ? { out: str(args, 'out')! } : {}),
        snapshots: !bool(args, 'no-snapshots'),
        ...(gcEvery !== undefined ? { gcSettledEvery: gcEvery } : {}),
        ...(bool(args, 'allocation-sampling') ? { allocationSampling: true } : {}),
        ...(str(args, 'clinic') ? { clinic: str(args, 'clinic')! } : {}),
        ...(seed !== undefined ? { seed } : {}),
        signal: abort.signal,
        onProgress: progressPrinter(io, tty),
        onEvent: (line) => io.stderr.write(`${tty ? '\r\x1b[2K' : ''}${line}\n`),
      });
      const m = out.manifest;
      io.stdout.write(`${tty ? '\n' : ''}run ${m.status}: ${out.dir}\n`);
      for (const r of out.results) {
        io.stdout.write(
          `  ${r.name}: ${r.completed}/${r.planned} completed, ${r.dropped} dropped, ${r.errors} errors, p99 ${r.latencyFromIntended?.p99Ms.toFixed(1) ?? '–'} ms (from intended) · ${Object.entries(
            r.statusCounts,
          )
            .map(([k, v]) => `${k}=${v}`)
            .join(' ')}\n`,
        );
      }
      io.stdout.write(`  ${out.sampleCount} samples, ${m.snapshots.length} heap snapshots\n`);
      if (m.status === 'interrupted') return 130;
      if (m.status !== 'complete') {
        io.stderr.write(`leakscope run: ${m.error}\n`);
        return 2;
      }
      return 0;
    } finally {
      process.off('SIGINT', onInt);
    }
  },
};
