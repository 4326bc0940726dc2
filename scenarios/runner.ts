/**
 * `leakscope run`: replays a scenario's phases against a target while sampling it, takes
 * heap snapshots at the named points, and writes the run directory the analyzer reads.
 * A run that is interrupted (Ctrl-C) or whose target dies keeps everything measured and
 * says so in its manifest; the manifest is rewritten (atomically) as each phase starts and
 * ends and as each capture lands, so even a killed runner leaves one that matches the disk.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { LsError, toLsError } from '../common/errors.js';
import type { PhaseResult, RunManifest } from '../common/run-format.js';
import { stamp } from '../common/time-stamp.js';
import { PhaseCursor, type RunProgress, runPhases } from './phase-loop.js';
import { Captures } from './run-captures.js';
import { buildManifest, closeOpenPhase, newRunRecord, type RunRecord, unfinished } from './run-record.js';
import {
  attachTarget,
  checkTargetChoice,
  modeLabel,
  modelInputs,
  requestedTarget,
  stopTarget,
  type TargetChoice,
} from './run-target.js';
import { RunWriter } from './run-writer.js';
import { applyOverrides, loadScenario, type ScenarioDef, type ScenarioOverrides } from './scenario.js';
import type { Target } from './targets.js';

export type { RunProgress, TargetChoice };

export interface RunOptions {
  /** Built-in scenario name or a scenario file. */
  readonly scenario: string;
  readonly overrides?: ScenarioOverrides;
  readonly target: TargetChoice;
  /** The run directory; default runs/<scenario>-<mode>-<time>/ under `runsRoot`. */
  readonly out?: string;
  readonly runsRoot?: string;
  /** Heap snapshots at the scenario's points (default on when the target allows them). */
  readonly snapshots?: boolean;
  /** Force a GC before every Nth sample (default from the scenario). */
  readonly gcSettledEvery?: number;
  readonly allocationSampling?: boolean;
  /** Run the spawned server under Clinic.js (doctor | heapprofiler), when it is installed. */
  readonly clinic?: string;
  readonly seed?: number;
  /** Stops the run in order: the load ends, what was measured is kept, the run is `interrupted`. */
  readonly signal?: AbortSignal;
  /**
   * The same stop, faster (a second Ctrl-C): in-flight requests and a capture under way are
   * not waited for, the target is killed rather than drained. Only matters once `signal` aborted.
   */
  readonly hurry?: AbortSignal;
  readonly onProgress?: (p: RunProgress) => void;
  readonly onEvent?: (line: string) => void;
}

export interface RunOutcome {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly results: readonly PhaseResult[];
  readonly sampleCount: number;
}

/**
 * Runs a scenario against a target and writes its run directory. Equals `leakscope run`.
 * @example const { dir } = await runScenario({ scenario: 'shuffled-input', target: { kind: 'spawn', mode: 'leaky' } });
 */
export async function runScenario(o: RunOptions): Promise<RunOutcome> {
  return RunSession.open(o).run();
}

/** Longest run name kept (file systems allow 255 bytes; the folder adds mode and time). */
const MAX_NAME = 80;

/**
 * A scenario name as a safe file name: letters, digits, '.', '_' and '-' only (anything else
 * becomes '-'), no leading dot or dash, at most 80 characters; `run` when nothing is left.
 * @example safeRunName('../../../x') // "x"
 */
export function safeRunName(name: string): string {
  const safe = name
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[.-]+/, '')
    .slice(0, MAX_NAME)
    .replace(/[.-]+$/, '');
  return safe || 'run';
}

/** `dir` is `root` or inside it. */
const isInside = (root: string, dir: string) => {
  const rel = relative(root, dir);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !rel.startsWith(sep));
};

/**
 * One run, start to end: its record (run-record.ts), the target's lifecycle (run-target.ts),
 * the captures (run-captures.ts) and the phase loop (phase-loop.ts). The run folder always
 * ends with a manifest saying how the run ended, whatever happened.
 */
class RunSession {
  private readonly emit: (line: string) => void;
  private readonly t0 = performance.now();
  private readonly now = () => performance.now() - this.t0;
  private readonly clinicDir: string | undefined;
  private target: Target | undefined;
  private captures: Captures | undefined;

  private constructor(
    private readonly o: RunOptions,
    private readonly def: ScenarioDef & { file: string },
    private readonly record: RunRecord,
    private readonly writer: RunWriter,
    /** Force a GC before every Nth sample (0: never). */
    private readonly gcEvery: number,
  ) {
    this.emit = o.onEvent ?? (() => undefined);
    this.clinicDir = o.clinic ? join(writer.dir, 'clinic') : undefined;
  }

  /** Checks every option, then makes the run folder and writes the manifest of a run under way. */
  static open(o: RunOptions): RunSession {
    const def: ScenarioDef & { file: string } = applyOverrides(loadScenario(o.scenario), o.overrides ?? {});
    if (o.clinic && o.target.kind !== 'spawn')
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        '--clinic runs a spawned reference server under Clinic.js; it cannot wrap an external target',
      );
    // Clinic.js Heap Profiler drives V8's sampling heap profiler itself: a second user of the
    // same profiler (leakscope's allocation sampling) makes its run fail, so the default gives way.
    if (o.clinic === 'heapprofiler' && (o.allocationSampling ?? def.allocationSampling) === true)
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        "--allocation-sampling cannot run with --clinic heapprofiler: both drive V8's one sampling heap profiler (Clinic's report has the allocation sites)",
      );
    // Everything that can be checked without the target, before a folder is made or a server spawned.
    checkTargetChoice(o.target, o.clinic);
    const started = new Date();
    const name = safeRunName(def.name);
    if (name !== def.name)
      o.onEvent?.(
        `run name: scenario name ${JSON.stringify(def.name)} is not a safe file name; the run is named '${name}'`,
      );
    const runId = `${name}-${modeLabel(o.target)}-${stamp(started)}`;
    const root = resolve(o.runsRoot ?? 'runs');
    const dir = resolve(o.out ?? join(root, runId));
    if (o.out === undefined && !isInside(root, dir))
      throw new LsError('LS_ERR_INVALID_OPTION', `run name '${runId}' would leave ${root}`);
    if (existsSync(dir) && readdirSync(dir).length > 0)
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `--out ${dir}: the folder exists and is not empty; a run never overwrites another`,
      );
    const gcEvery = o.gcSettledEvery ?? def.gcSettledEvery;
    const record = newRunRecord(
      runId,
      def,
      { ...(o.overrides ?? {}), seed: o.seed ?? 1, gcSettledEvery: gcEvery },
      requestedTarget(o.target),
      started,
    );
    const session = new RunSession(o, def, record, new RunWriter(dir), gcEvery);
    session.checkpoint();
    return session;
  }

  async run(): Promise<RunOutcome> {
    // A second stop request kills the target: in-flight requests and a capture under way fail at once.
    const onHurry = () => {
      if (this.o.signal?.aborted) {
        this.emit('stopping at once: the target is killed, not drained');
        this.target?.kill?.();
      }
    };
    this.o.hurry?.addEventListener('abort', onHurry);
    try {
      try {
        const target = await this.attach();
        if (this.o.hurry?.aborted) onHurry();
        await this.runPhases(target);
      } catch (e) {
        const { err, manifest } = await this.failed(e);
        // A stopped run is an outcome, not an error, even when the stop broke a capture or a load.
        if (manifest.status !== 'interrupted') throw err;
        return { dir: this.writer.dir, manifest, results: this.record.results, sampleCount: this.writer.sampleCount };
      }
      this.writer.results(this.record.results);
      const stopped = await stopTarget(this.target!, this.writer.dir, this.emit);
      Object.assign(this.record.artifacts, stopped.artifacts);
      this.record.clinic = stopped.clinic;
      const m = this.writeManifest();
      return { dir: this.writer.dir, manifest: m, results: this.record.results, sampleCount: this.writer.sampleCount };
    } finally {
      this.o.hurry?.removeEventListener('abort', onHurry);
    }
  }

  /** The record as it stands, written while the run is under way: results and a `running` manifest. */
  private checkpoint(): void {
    this.writer.results(this.record.results);
    this.writeManifest(unfinished());
  }

  /** The target, spawned or attached, entered in the record. */
  private async attach(): Promise<Target> {
    const target = await attachTarget(this.o.target, {
      def: this.def,
      snapshotsDir: this.writer.snapshotsDir,
      exposeGc: this.gcEvery > 0,
      ...(this.o.clinic && this.clinicDir ? { clinic: { tool: this.o.clinic, dir: this.clinicDir } } : {}),
      emit: this.emit,
    });
    this.target = target;
    this.record.target = target.info;
    this.emit(`target: ${JSON.stringify(target.info)}`);
    this.checkpoint();
    return target;
  }

  /** Samples throughout, runs the phases, and takes a last sample while the target lives. */
  private async runPhases(target: Target): Promise<void> {
    const def = this.def;
    const needsModel = def.phases.some((p) => p.transport === 'grpc' || p.transport === 'rest');
    const inputs = needsModel ? await modelInputs(target, target.modelName) : undefined;
    const cursor = new PhaseCursor();
    const captures = new Captures(target, this.writer, this.record, {
      intervalMs: def.sampleIntervalMs,
      gcSettledEvery: this.gcEvery,
      snapshots: this.o.snapshots ?? true,
      allocationSampling:
        this.o.allocationSampling ?? def.allocationSampling ?? (this.o.clinic === 'heapprofiler' ? false : undefined),
      steady: def.phases.map((p) => p.steady),
      now: this.now,
      phase: () => cursor.phase,
      requests: () => cursor.requests(),
      emit: this.emit,
      checkpoint: () => this.checkpoint(),
    });
    this.captures = captures;
    captures.start();
    try {
      await runPhases({
        def,
        target,
        inputs,
        captures,
        record: this.record,
        cursor,
        seed: this.o.seed ?? 1,
        ...(this.o.signal ? { signal: this.o.signal } : {}),
        now: this.now,
        emit: this.emit,
        ...(this.o.onProgress ? { onProgress: this.o.onProgress } : {}),
        checkpoint: () => this.checkpoint(),
      });
    } finally {
      // A hurried stop takes no last sample (the target is being killed).
      if (this.o.hurry?.aborted) await captures.stop();
      else await captures.finish();
    }
  }

  /** Records a run that failed (or was stopped), keeps what it measured, stops the target. */
  private async failed(e: unknown): Promise<{ err: LsError; manifest: RunManifest }> {
    const err = toLsError(e);
    // A stop request that broke a capture or a load (the target killed by a second Ctrl-C) is still that stop.
    this.record.status = this.o.signal?.aborted
      ? 'interrupted'
      : this.target && !this.target.alive()
        ? 'target-died'
        : 'failed';
    this.record.error = this.o.signal?.aborted ? `interrupted (${err.message})` : err.message;
    closeOpenPhase(this.record, this.now());
    await this.captures?.stop().catch(() => undefined);
    this.writer.results(this.record.results);
    const manifest = this.writeManifest();
    await this.target?.stop().catch(() => undefined);
    return { err, manifest };
  }

  private writeManifest(override?: ReturnType<typeof unfinished>): RunManifest {
    const m = { ...buildManifest(this.record), ...override };
    this.writer.manifest(m);
    return m;
  }
}
