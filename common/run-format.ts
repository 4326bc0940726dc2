/**
 * The run directory: the contract between scenarios (which write it) and the analyzer,
 * reports and gate (which read it). Format 1:
 *
 *   manifest.json     RunManifest — what ran, against what, phases, snapshots, status
 *   samples.ndjson    one Sample per line, fixed interval
 *   results.json      RunResults — per-phase load results (latency, status codes, drops)
 *   snapshots/        *.heapsnapshot (when requested)
 *   profiles/         *.heapprofile (when allocation sampling was requested)
 *   analysis.json     written by the analyzer (`leakscope report` / `gate`)
 *
 * Fields that a target cannot provide are absent, never zero. Readers must accept
 * unknown fields (later minor additions) and refuse an unknown `format`.
 */

export const RUN_FORMAT = 1;

export const MANIFEST_FILE = 'manifest.json';
export const SAMPLES_FILE = 'samples.ndjson';
export const RESULTS_FILE = 'results.json';
export const ANALYSIS_FILE = 'analysis.json';
export const SNAPSHOT_DIR = 'snapshots';
export const PROFILE_DIR = 'profiles';

export type Transport = 'grpc' | 'rest' | 'http' | 'grpc-generic';

export type TargetInfo =
  | {
      readonly kind: 'spawned';
      readonly mode: string;
      readonly fixes: readonly string[];
      readonly pid: number;
      readonly grpc: string;
      readonly rest: string;
      readonly diagnostics?: string;
      readonly options?: Readonly<Record<string, unknown>>;
    }
  | {
      readonly kind: 'external';
      readonly grpc?: string;
      readonly http?: string;
      readonly pid?: number;
      readonly prometheus?: string;
      readonly inspect?: string;
    };

export interface PhaseRecord {
  readonly name: string;
  /** ms since the run's start. */
  readonly startMs: number;
  readonly endMs: number;
  /** Steady phases are the ones growth statistics are computed over. */
  readonly steady: boolean;
  readonly transport: Transport;
  /** e.g. { rate: 200, durationS: 10 } as declared in the scenario. */
  readonly load: Readonly<Record<string, unknown>>;
  /**
   * The phase was still running when the manifest was last written (the runner writes it as
   * each phase starts and ends): `endMs` is its start then, and a reader takes its end from
   * the last sample of the phase.
   */
  readonly open?: true;
}

export interface SnapshotRecord {
  /** baseline | target | final | any label the scenario gives. */
  readonly label: string;
  /** Relative to the run directory. */
  readonly file: string;
  readonly phase: string;
  readonly tMs: number;
  readonly captureMs: number;
  readonly bytes: number;
  /** main | handler thread id. */
  readonly isolate: string;
}

/**
 * How a run ended. `running` is what the runner writes while the run is under way; a reader
 * that finds it while the runner process (`RunManifest.runner`) is gone reports `killed`,
 * which is never written.
 */
export type RunStatus = 'complete' | 'interrupted' | 'target-died' | 'failed' | 'running' | 'killed';

/** The runner process writing a run, so a reader can tell a run under way from one whose runner was killed. */
export interface RunnerIdentity {
  readonly pid: number;
  readonly hostname: string;
  /** Start time of the process in clock ticks since boot (/proc/<pid>/stat field 22): a reused pid differs. */
  readonly startTicks?: number;
}

export interface RunManifest {
  readonly format: typeof RUN_FORMAT;
  readonly tool: { readonly name: 'leakscope'; readonly version: string };
  readonly runId: string;
  readonly scenario: {
    readonly name: string;
    readonly file?: string;
    /** The validated scenario definition, as run (after parameters were applied). */
    readonly definition: Readonly<Record<string, unknown>>;
    readonly parameters: Readonly<Record<string, unknown>>;
  };
  readonly target: TargetInfo;
  readonly host: {
    readonly cpus: number;
    readonly memBytes: number;
    readonly platform: string;
    readonly node: string;
    readonly hostname: string;
  };
  readonly startedAt: string;
  readonly endedAt: string;
  readonly status: RunStatus;
  readonly error?: string;
  /** The runner process (present while the run is under way). */
  readonly runner?: RunnerIdentity;
  readonly sampleIntervalMs: number;
  readonly phases: readonly PhaseRecord[];
  readonly snapshots: readonly SnapshotRecord[];
  readonly heapProfiles: readonly { readonly file: string; readonly phase: string }[];
  /** Links to extra artefacts (Clinic.js HTML, logs), relative to the run directory. */
  readonly artifacts?: Readonly<Record<string, string>>;
  /** The run's Clinic.js step, when it ran under `--clinic`. */
  readonly clinic?: ClinicRecord;
}

/**
 * How the Clinic.js step of a run ended. `complete`: Clinic exited after the server stopped and
 * its HTML report is whole (closing tags, embedded data, Clinic's own hash trailer), linked as
 * `artifacts.clinic`. `failed`: no such report (the reason in `error`; never linked).
 */
export interface ClinicRecord {
  readonly tool: string;
  /** Clinic.js' version, when its package could be read. */
  readonly version?: string;
  readonly status: 'complete' | 'failed';
  /** The HTML report (or what was written of it), relative to the run directory. */
  readonly html?: string;
  readonly bytes?: number;
  /** Seconds from stopping the server to Clinic's exit (its analysis and HTML). */
  readonly finishS?: number;
  readonly error?: string;
}

/** One line of samples.ndjson. */
export interface Sample {
  /** ms since the run's start. */
  readonly t: number;
  readonly phase: string;
  /** Requests completed (answered, any status) since the run's start, all phases. */
  readonly requests: number;
  readonly rssBytes?: number;
  readonly heapUsedBytes?: number;
  readonly heapTotalBytes?: number;
  readonly externalBytes?: number;
  /** Memory of ArrayBuffers and Buffers (process.memoryUsage().arrayBuffers; part of external). */
  readonly arrayBuffersBytes?: number;
  /** True when a GC was forced just before this sample (heap figures are then settled). */
  readonly gcSettled?: boolean;
  /**
   * On a settled sample: the V8 heap the forced GC left, read with the GC (in the process,
   * right after it) or as the old generation's used bytes (an inspector's read comes a round
   * trip later, while the target serves: its young generation then holds that garbage).
   * Absent when the source cannot tell; the analyzer then takes `heapUsedBytes`.
   */
  readonly heapSettledBytes?: number;
  readonly threads?: number;
  readonly threadsByName?: Readonly<Record<string, number>>;
  /** Worker threads alive, from the inspector's NodeWorker domain (Node targets with --inspect). */
  readonly workers?: number;
  /** Those workers by script file name ("eval" for code strings). */
  readonly workersByScript?: Readonly<Record<string, number>>;
  /** Workers seen to exit since sampling began (cumulative). */
  readonly workersExited?: number;
  readonly openFds?: number;
  readonly cacheEntries?: number;
  readonly cacheKeyBytes?: number;
  readonly handlerThreads?: number;
  readonly inflight?: number;
}

export interface LatencySummary {
  readonly count: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly p999Ms: number;
  readonly maxMs: number;
  /** HDR histogram (microseconds), compressed and base64-encoded by hdr-histogram-js. */
  readonly hdr?: string;
}

export interface PhaseResult {
  readonly name: string;
  readonly transport: Transport;
  /**
   * Requests the schedule planned. Every one ends in one place: planned = sent + dropped and
   * sent = completed + cut (an interrupted phase sends fewer). Closed-loop phases plan
   * their `requests`, or what they sent when they ran for a duration.
   */
  readonly planned: number;
  readonly sent: number;
  /** Sent requests that ended during the phase: answered (any status), failed or timed out. */
  readonly completed: number;
  /** Planned requests that could not be sent on time (in-flight bound reached). */
  readonly dropped: number;
  /** Sent requests still in flight when the phase's drain ended, then cancelled (absent in older runs). */
  readonly cut?: number;
  /** By gRPC code name (OK, RESOURCE_EXHAUSTED…) or HTTP status ("200", "429"…). */
  readonly statusCounts: Readonly<Record<string, number>>;
  readonly errors: number;
  readonly achievedRate: number;
  /** Latency measured from the intended send time (coordinated-omission free). */
  readonly latencyFromIntended?: LatencySummary;
  /** Latency measured from the actual send time. */
  readonly latencyFromSent?: LatencySummary;
  /** Driver CPU (user+system) per completed request, microseconds. */
  readonly driverCpuUsPerRequest?: number;
}

export interface RunResults {
  readonly format: typeof RUN_FORMAT;
  readonly phases: readonly PhaseResult[];
}
