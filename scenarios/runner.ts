/**
 * `leakscope run`: replays a scenario's phases against a target while sampling it, takes
 * heap snapshots at the named points, and writes the run directory the analyzer reads.
 * A run that is interrupted (Ctrl-C) or whose target dies keeps everything measured and
 * says so in its manifest.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LsError, toLsError } from '../common/errors.js';
import type { PhaseResult, RunManifest } from '../common/run-format.js';
import { stamp } from '../common/time-stamp.js';
import { PhaseCursor, type RunProgress, runPhases } from './phase-loop.js';
import { Captures } from './run-captures.js';
import { buildManifest, newRunRecord, type RunRecord, UNFINISHED } from './run-record.js';
import { attachTarget, modeLabel, modelInputs, requestedTarget, stopTarget, type TargetChoice } from './run-target.js';
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
  readonly signal?: AbortSignal;
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

  /** Checks the options, makes the run folder and writes the manifest of a run under way. */
  static open(o: RunOptions): RunSession {
    const def: ScenarioDef & { file: string } = applyOverrides(loadScenario(o.scenario), o.overrides ?? {});
    if (o.clinic && o.target.kind !== 'spawn')
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        '--clinic runs a spawned reference server under Clinic.js; it cannot wrap an external target',
      );
    const started = new Date();
    const runId = `${def.name}-${modeLabel(o.target)}-${stamp(started)}`;
    const dir = resolve(o.out ?? join(o.runsRoot ?? 'runs', runId));
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
    session.writeManifest(UNFINISHED);
    return session;
  }

  async run(): Promise<RunOutcome> {
    try {
      const target = await this.attach();
      await this.runPhases(target);
    } catch (e) {
      throw await this.failed(e);
    }
    this.writer.results(this.record.results);
    const stopped = await stopTarget(this.target!, this.writer.dir, this.emit);
    Object.assign(this.record.artifacts, stopped.artifacts);
    this.record.clinic = stopped.clinic;
    const m = this.writeManifest();
    return { dir: this.writer.dir, manifest: m, results: this.record.results, sampleCount: this.writer.sampleCount };
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
    this.writeManifest(UNFINISHED);
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
      allocationSampling: this.o.allocationSampling ?? def.allocationSampling,
      steady: def.phases.map((p) => p.steady),
      now: this.now,
      phase: () => cursor.phase,
      requests: () => cursor.requests(),
      emit: this.emit,
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
      });
    } finally {
      await captures.finish();
    }
  }

  /** Records a run that failed, keeps what it measured, stops the target; the error to throw. */
  private async failed(e: unknown): Promise<LsError> {
    const err = toLsError(e);
    this.record.status = this.target && !this.target.alive() ? 'target-died' : 'failed';
    this.record.error = err.message;
    await this.captures?.stop().catch(() => undefined);
    this.writer.results(this.record.results);
    this.writeManifest();
    await this.target?.stop().catch(() => undefined);
    return err;
  }

  private writeManifest(override?: typeof UNFINISHED): RunManifest {
    const m = { ...buildManifest(this.record), ...override };
    this.writer.manifest(m);
    return m;
  }
}
