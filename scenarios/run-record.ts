/**
 * What a run session has recorded so far — the phases run, their load results, the snapshots
 * and profiles captured, how it ended — and the manifest (common/run-format.ts) built from
 * it. The runner writes the manifest when the run starts, when its target is up, as each
 * phase starts and ends and as each snapshot lands (status `running`, with the runner's
 * identity, so a reader can tell a killed runner's folder), and when it ends.
 */
import { cpus, hostname, totalmem } from 'node:os';
import { processStartTicks } from '../common/proc.js';
import {
  type ClinicRecord,
  type PhaseRecord,
  type PhaseResult,
  RUN_FORMAT,
  type RunManifest,
  type RunnerIdentity,
  type RunStatus,
  type SnapshotRecord,
  type TargetInfo,
} from '../common/run-format.js';
import { VERSION } from '../common/version.js';
import type { ScenarioDef } from './scenario.js';

export interface RunRecord {
  readonly runId: string;
  /** The scenario as run (overrides applied) and the file it came from. */
  readonly def: ScenarioDef & { readonly file: string };
  /** The run's parameters: the overrides, the seed, the GC-settled interval. */
  readonly parameters: Readonly<Record<string, unknown>>;
  readonly startedAt: Date;
  /** The target as attached; until then, what was asked for. */
  target: TargetInfo;
  status: RunStatus;
  error: string | undefined;
  readonly phases: PhaseRecord[];
  readonly results: PhaseResult[];
  readonly snapshots: SnapshotRecord[];
  readonly heapProfiles: { readonly file: string; readonly phase: string }[];
  /** Extra artefacts (Clinic.js HTML), relative to the run directory. */
  readonly artifacts: Record<string, string>;
  /** The Clinic.js step, once the target is stopped (`--clinic`). */
  clinic?: ClinicRecord | undefined;
}

/** A new run's record: nothing run yet, status complete until something says otherwise. */
export function newRunRecord(
  runId: string,
  def: ScenarioDef & { readonly file: string },
  parameters: Readonly<Record<string, unknown>>,
  target: TargetInfo,
  startedAt = new Date(),
): RunRecord {
  return {
    runId,
    def,
    parameters,
    startedAt,
    target,
    status: 'complete',
    error: undefined,
    phases: [],
    results: [],
    snapshots: [],
    heapProfiles: [],
    artifacts: {},
  };
}

/** This process, as the runner of a run (see RunManifest.runner). */
export function thisRunner(): RunnerIdentity {
  const startTicks = processStartTicks(process.pid);
  return { pid: process.pid, hostname: hostname(), ...(startTicks !== undefined ? { startTicks } : {}) };
}

/** What the manifest says of a run still under way: a reader that finds its runner gone reports it killed. */
export function unfinished(runner: RunnerIdentity = thisRunner()): Pick<RunManifest, 'status' | 'error' | 'runner'> {
  return { status: 'running', error: 'the run has not finished (still running, or the runner was killed)', runner };
}

export type HostFacts = RunManifest['host'];

export function hostFacts(): HostFacts {
  return {
    cpus: cpus().length,
    memBytes: totalmem(),
    platform: process.platform,
    node: process.version,
    hostname: hostname(),
  };
}

/** The manifest of a run as recorded now, ending at `endedAt`. */
export function buildManifest(r: RunRecord, endedAt = new Date(), host: HostFacts = hostFacts()): RunManifest {
  return {
    format: RUN_FORMAT,
    tool: { name: 'leakscope', version: VERSION },
    runId: r.runId,
    scenario: {
      name: r.def.name,
      file: r.def.file,
      // The definition as run, without where it was read from (file is above; baseDir is local).
      definition: { ...r.def, baseDir: undefined, file: undefined } as unknown as Record<string, unknown>,
      parameters: r.parameters,
    },
    target: r.target,
    host,
    startedAt: r.startedAt.toISOString(),
    endedAt: endedAt.toISOString(),
    status: r.status,
    ...(r.error ? { error: r.error } : {}),
    sampleIntervalMs: r.def.sampleIntervalMs,
    phases: r.phases,
    snapshots: r.snapshots,
    heapProfiles: r.heapProfiles,
    ...(Object.keys(r.artifacts).length ? { artifacts: r.artifacts } : {}),
    ...(r.clinic ? { clinic: r.clinic } : {}),
  };
}

/** Ends a phase left open by a run that stopped inside it (an error): it ran until `endMs`. */
export function closeOpenPhase(r: RunRecord, endMs: number): void {
  const last = r.phases[r.phases.length - 1];
  if (last?.open) {
    const { open: _, ...closed } = last;
    r.phases[r.phases.length - 1] = { ...closed, endMs: Math.max(closed.startMs, Math.round(endMs)) };
  }
}
