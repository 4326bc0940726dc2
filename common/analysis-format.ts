/**
 * analysis.json: what the analyzer concludes about one run directory, and what reports
 * and the gate read. Plain JSON (no Infinity/NaN: absent numbers are null). Format 1.
 *
 * Units: a series' `unit` is 'bytes' or 'count'; growth per request is in that unit per
 * completed request, growth per second in that unit per second.
 */

export const ANALYSIS_FORMAT = 1;

/**
 * LEAK: significant upward trend whose growth is practically large per request and per
 * second (CI lower bounds above the series' minimums) and still going in the last steady
 * window. STABLE: growth proven negligible (CI upper bounds below the series' margins, per
 * request and per second: an equivalence test), or negligible in the last steady window
 * after growth that stopped. GROWING: neither (inconclusive). INSUFFICIENT_DATA: too few
 * samples / requests. Rules and defaults: docs/verdicts.md.
 */
export type Verdict = 'LEAK' | 'GROWING' | 'STABLE' | 'INSUFFICIENT_DATA';

/** Series the analyzer knows; heapUsedSettledBytes = heapSettledBytes (else heapUsedBytes) of gcSettled samples only. */
export type SeriesKey =
  | 'rssBytes'
  | 'heapUsedBytes'
  | 'heapUsedSettledBytes'
  | 'externalBytes'
  | 'arrayBuffersBytes'
  | 'cacheEntries'
  | 'cacheKeyBytes'
  | 'threads'
  | 'handlerThreads'
  | 'openFds';

export type SeriesUnit = 'bytes' | 'count';

/** A point estimate with its confidence interval. */
export interface Estimate {
  readonly estimate: number;
  readonly low: number;
  readonly high: number;
  /** e.g. 0.95 */
  readonly confidence: number;
}

/** Mann–Kendall trend test. */
export interface TrendTest {
  readonly test: 'mann-kendall';
  readonly s: number;
  readonly variance: number;
  readonly z: number;
  /** Two-sided. */
  readonly pValue: number;
  /** Kendall's tau-b of value against order. */
  readonly tau: number;
  /** Hamed–Rao n/n* (≥ 1) applied to Var(S) and to the slope intervals for serial correlation. */
  readonly varianceInflation?: number;
}

/** The practical-significance thresholds a series was judged against. */
export interface SeriesThreshold {
  /** Significance level of the trend test. */
  readonly alpha: number;
  /** A LEAK needs perRequest.low above this (unit per request). */
  readonly minPerRequest: number;
  /** …and perSecond.low above this (unit per second): time-driven drift is not a leak. */
  readonly minPerSecond: number;
  /** …and fitted growth over the window (at perRequest.low) ≥ this fraction of the start value (0.1 = 10 %). */
  readonly minRelativeGrowth: number;
  /** STABLE needs perRequest.high below this (the equivalence margin, unit per request)… */
  readonly negligiblePerRequest: number;
  /** …and perSecond.high below this (unit per second). */
  readonly negligiblePerSecond: number;
}

/** A heap capture (snapshot) during the run: its pause and RSS step split the series. */
export interface CaptureMark {
  readonly label: string;
  readonly phase: string;
  /** ms since the run's start when the capture began. */
  readonly tMs: number;
  readonly captureMs: number;
}

/** The last steady window judged on its own: is the growth still going at the end? */
export interface LastWindow {
  /** e.g. "shuffle-more" (the last steady phase) or "last half of soak". */
  readonly label: string;
  readonly n: number;
  readonly perRequest: Estimate | null;
  readonly perSecond: Estimate | null;
  /** LEAK/GROWING/STABLE of the window alone by the same rules (no relative-growth test). */
  readonly verdict: Verdict;
}

export interface SeriesAnalysis {
  readonly key: SeriesKey;
  /** Human label, e.g. "RSS", "V8 heap used (GC-settled)". */
  readonly label: string;
  readonly unit: SeriesUnit;
  /** True for the series built from gcSettled samples only. */
  readonly settledOnly: boolean;
  /** Samples used (after subsampling, see `subsampledFrom`). */
  readonly n: number;
  /** Samples available before even subsampling, when subsampled. */
  readonly subsampledFrom?: number;
  /** Phases the samples came from (the steady ones). */
  readonly phases: readonly string[];
  /** Requests completed across the samples used (last − first). */
  readonly requestSpan: number;
  readonly durationMs: number;
  /** Theil–Sen slope against requests completed; null when requests did not advance. */
  readonly perRequest: Estimate | null;
  /** Theil–Sen slope against time, per second. */
  readonly perSecond: Estimate | null;
  readonly trend: TrendTest | null;
  readonly start: number | null;
  readonly end: number | null;
  readonly peak: number | null;
  /** perRequest.estimate × requestSpan / start (or per time when no requests), null if start is 0. */
  readonly relativeGrowth: number | null;
  readonly threshold: SeriesThreshold;
  /** Segments fitted with one common slope and their own offsets (> 1: cut at heap captures). */
  readonly segments?: number;
  /**
   * When cut at captures: the same slopes fitted across them (steps included). A LEAK and
   * a budget's excess need these too: growth inside segments whose level the series does
   * not carry across the captures is regrowth after them.
   */
  readonly acrossCaptures?: { readonly perRequest: Estimate | null; readonly perSecond: Estimate | null };
  /** The last steady window judged alone; absent when it had too few samples or requests. */
  readonly lastWindow?: LastWindow;
  readonly verdict: Verdict;
  /** One line, e.g. "RSS grows 412 B/request ±30 (95% CI), Mann-Kendall p<0.001". */
  readonly reason: string;
}

export interface ThreadGroupChange {
  /** Thread name (from /proc comm) or a gauge such as "handler threads". */
  readonly name: string;
  readonly baseline: number | null;
  readonly peak: number;
  readonly after: number | null;
  readonly grew: boolean;
  readonly cameBackDown: boolean | null;
}

export interface ThreadAnalysis {
  /** Which series the numbers are from. */
  readonly source: 'threads' | 'handlerThreads';
  /** Phase with the highest in-flight load (or the one named spike), null if none stood out. */
  readonly spikePhase: string | null;
  /** Phase after the spike where threads should have come back down. */
  readonly recoveryPhase: string | null;
  /** Median before the spike. */
  readonly baseline: number | null;
  readonly peak: number;
  readonly peakTMs: number;
  /** Median of the upper half of the spike phase (the level threads held at). */
  readonly plateau: number | null;
  /** Median of the last third of the recovery phase. */
  readonly afterRecovery: number | null;
  readonly peakInflight: number | null;
  /**
   * Median over the spike's samples of (threads − baseline) / in-flight, with a
   * distribution-free CI: ≈1 when each in-flight request holds a thread, ≈0 under a cap.
   */
  readonly threadsPerInflight: Estimate | null;
  /** (peak − baseline) / peakInflight. */
  readonly extraThreadsPerInflightAtPeak: number | null;
  /** afterRecovery ≤ baseline + max(2, 10 % of the spike's rise); null without a recovery phase. */
  readonly cameBackDown: boolean | null;
  /**
   * false: threads followed in-flight load (rise ≥ half the peak in-flight, ≥ 0.5 per request)
   * or rose past 4 × CPUs + 4 (the fix's default cap plus libuv's pool) with more in flight.
   */
  readonly bounded: boolean | null;
  readonly groups: readonly ThreadGroupChange[];
  /** Threads' growth with requests outside the spike and its recovery; null with too few samples. */
  readonly growth?: ThreadGrowth | null;
  readonly reason: string;
}

/**
 * Thread growth per request over the calm part of a run (the steady phases, or every phase
 * but a spike and its recovery): a thread leak that needs no spike, such as a Worker
 * started every N requests, with what the threads are when that can be known.
 */
export interface ThreadGrowth {
  readonly phases: readonly string[];
  readonly n: number;
  readonly requestSpan: number;
  /** Theil–Sen slope of the thread count against requests, × 1,000, with its CI. */
  readonly perThousandRequests: Estimate;
  readonly pValue: number;
  readonly start: number;
  readonly end: number;
  /**
   * Significant (p < alpha), the CI's lower bound at least MIN_PER_THOUSAND threads per
   * 1,000 requests, and a rise of at least 4 threads and 25 %.
   */
  readonly leaking: boolean;
  /** What grew: "Worker threads from worker.js", "threads named grpcpp_sync_ser", or "threads". */
  readonly who: string;
  /** Workers of that script that exited over the window (null: workers not observed). */
  readonly exited: number | null;
  /** "Worker threads from worker.js grow 4.1 per 1,000 requests (95% CI 3.9–4.3) and never exit". */
  readonly headline: string;
}

/** One row of the class diff between two snapshots (analyzer/heap's DiffRow is this type). */
export interface HeapDiffRow {
  readonly className: string;
  readonly newCount: number;
  readonly deletedCount: number;
  /** newCount − deletedCount. */
  readonly deltaCount: number;
  /** Self size of new objects. */
  readonly allocSize: number;
  /** Self size of deleted objects. */
  readonly freedSize: number;
  /** allocSize − freedSize. */
  readonly deltaSize: number;
}

export interface HeapPathStep {
  readonly edge?: { readonly type: string; readonly name: string };
  readonly node: { readonly id: number; readonly type: string; readonly className: string; readonly text: string };
}

/** A leak-candidate group from the three-snapshot analysis (analyzer/heap/leaks.ts). */
export interface LeakGroupRow {
  readonly className: string;
  readonly count: number;
  readonly selfSize: number;
  readonly retainedSize: number;
  readonly heldBy: string;
  readonly path: string;
  readonly steps: readonly HeapPathStep[];
  /** The path with lists, listener arrays and Map tables folded; closures with file:line. */
  readonly readablePath?: string;
  /** Closures on the path and the callback the representative holds (snapshot `locations`). */
  readonly codeSites?: readonly HeapCodeSite[];
  /** Where the group's objects were allocated, from the run's sampling heap profile. */
  readonly allocationSites?: readonly HeapAllocationSite[];
  /** The statement that makes or keeps the group's objects, when one line can be named. */
  readonly sourceLine?: HeapSourceLine;
  /** ArrayBuffer backing stores (off-heap) the members hold; absent when they hold none. */
  readonly backingStores?: HeapBackingStores;
  /** Surviving members first seen per interval between consecutive snapshots (the last: after the target). */
  readonly newPerInterval?: readonly number[];
  /** Consecutive snapshot pairs in which the group grew, of `pairs`. */
  readonly grewInPairs?: number;
  readonly pairs?: number;
}

/** A function's source position (1-based line and column). */
export interface HeapCodeSite {
  readonly kind: 'closure' | 'callback';
  readonly functionName: string;
  readonly url: string;
  readonly line: number;
  readonly column: number;
}

/**
 * The one statement of the program behind a leak group (analyzer/heap/source-lines.ts):
 * the closure's definition or the callback its members hold (snapshot), or the line that
 * allocates the group's objects or stores them into their holder (the script's text).
 */
export interface HeapSourceLine {
  readonly how: 'closure' | 'callback' | 'allocated' | 'kept';
  readonly url: string;
  /** 1-based. */
  readonly line: number;
  /** The function the line is in, when known. */
  readonly functionName?: string;
  /** The line's code (no trailing comment), trimmed and cut to 80 characters, when the script could be read. */
  readonly text?: string;
}

/** Off-heap bytes a group's members hold: ArrayBuffer backing stores, each counted once. */
export interface HeapBackingStores {
  readonly count: number;
  readonly bytes: number;
  /** The size every store has, when they all have one (e.g. 4,096 for `Buffer.alloc(4096)`). */
  readonly each: number | null;
}

/** An allocation site of a leak group (analyzer/heap/allocation-profile.ts). */
export interface HeapAllocationSite {
  readonly functionName: string;
  readonly url: string;
  /** The function's line (sampling profiles carry the function's position, not the statement's). */
  readonly line: number;
  readonly bytes: number;
  readonly matchedBy: 'constructor' | 'enclosing' | 'largest';
}

export interface HeapSection {
  /** Snapshot files used, relative to the run directory. */
  readonly snapshots: {
    readonly baseline: string;
    readonly target: string;
    readonly final: string;
    /** All snapshots used in order, when more than three (`snapshots: N` in a phase). */
    readonly series?: readonly string[];
  } | null;
  /** Diff baseline → final. */
  readonly diff: {
    readonly before: { readonly file: string; readonly nodeCount: number; readonly totalSize: number };
    readonly after: { readonly file: string; readonly nodeCount: number; readonly totalSize: number };
    readonly rows: readonly HeapDiffRow[];
    readonly changedClassCount: number;
    readonly totals: Omit<HeapDiffRow, 'className'>;
  } | null;
  readonly leaks: {
    readonly candidateCount: number;
    readonly candidateRetainedSize: number;
    readonly groups: readonly LeakGroupRow[];
    readonly byClass: readonly {
      readonly className: string;
      readonly count: number;
      readonly selfSize: number;
      readonly retainedSize: number;
    }[];
    /** Groups that grew after the baseline but not in the last pair: warm-up, not blamed. */
    readonly stopped?: readonly {
      readonly className: string;
      readonly heldBy: string;
      readonly count: number;
      readonly retainedSize: number;
    }[];
    readonly stoppedCount?: number;
  } | null;
  /** Heap size (sum of self sizes) of the target snapshot, when there is one. */
  readonly targetTotalSize?: number;
  /** Why heap analysis was skipped or partial (snapshot too big, unreadable…). */
  readonly note?: string;
}

export interface Culprit {
  readonly className: string;
  readonly heldBy: string;
  readonly path: string;
  readonly retainedSize: number;
  readonly count: number;
  /** retainedSize / heap growth baseline → target snapshot (→ final without a target), null if no growth. */
  readonly growthShare: number | null;
  /** What growthShare divides by, in words ("heap growth baseline → target snapshot: 24.1 MB"). */
  readonly growthBasis: string | null;
  /** The code behind it: "allocated at cache.js:31 in `remember`; closure `onConfig` at app.js:12". */
  readonly source?: string;
  /** The readable retainer path (lists, listeners, Map tables folded). */
  readonly readablePath?: string;
  /** The statement that makes or keeps the culprit's objects (file:line, its text). */
  readonly sourceLine?: HeapSourceLine;
  /** Backing stores (off-heap bytes, inside retainedSize) the culprit's objects hold. */
  readonly backingStores?: HeapBackingStores;
}

export interface OverallVerdict {
  readonly verdict: Verdict;
  /** One sentence for the top of a report. */
  readonly headline: string;
  /** Series judged LEAK. */
  readonly leaking: readonly SeriesKey[];
  /** Thread explosion: threads followed in-flight load and/or did not come back down. */
  readonly threadProblem: boolean;
  readonly culprit: Culprit | null;
  /**
   * Series left GROWING (not proven negligible) under an overall STABLE, each with why that
   * may stand (docs/verdicts.md, "The overall verdict"); absent when there are none.
   */
  readonly inconclusive?: readonly { readonly key: SeriesKey; readonly reason: string }[];
}

/** Per-phase load summary (from results.json and the manifest). */
export interface PhaseLoadSummary {
  readonly name: string;
  readonly steady: boolean;
  readonly transport: string;
  readonly startMs: number | null;
  readonly endMs: number | null;
  readonly planned: number;
  readonly sent: number;
  readonly completed: number;
  readonly dropped: number;
  readonly errors: number;
  /** errors / completed (0 when nothing completed). */
  readonly errorRate: number;
  /** dropped / planned. */
  readonly droppedRate: number;
  readonly achievedRate: number;
  readonly statusCounts: Readonly<Record<string, number>>;
  /** Latency from intended send time when present, else from sent time. */
  readonly latency: {
    readonly basis: 'intended' | 'sent';
    readonly p50Ms: number;
    readonly p90Ms: number;
    readonly p99Ms: number;
    readonly p999Ms: number;
    readonly maxMs: number;
    readonly meanMs: number;
  } | null;
}

/** A steady phase's data: samples found against samples expected, and whether its load results are there. */
export interface SteadyPhaseData {
  readonly phase: string;
  /** Whether the phase ran (it is in the manifest); a planned phase that never ran expects its planned duration. */
  readonly ran: boolean;
  readonly samples: number;
  /** Phase duration / sample interval, rounded down. */
  readonly expected: number;
  readonly hasResults: boolean;
  /** Why the data is not enough ("steady phase X has N of M expected samples"); absent when it is. */
  readonly gap?: string;
}

export interface Analysis {
  readonly format: typeof ANALYSIS_FORMAT;
  readonly tool: { readonly name: 'leakscope'; readonly version: string };
  readonly analyzedAt: string;
  readonly run: {
    readonly dir: string;
    readonly runId: string;
    readonly scenario: string;
    /** Target mode (leaky / patched / …) or 'external'. */
    readonly mode: string;
    readonly status: string;
    readonly startedAt: string;
    readonly endedAt: string;
    readonly sampleCount: number;
    readonly steadyPhases: readonly string[];
    readonly requests: number;
    /** Samples each steady phase has against what its duration implies (absent in older analyses). */
    readonly data?: readonly SteadyPhaseData[];
  };
  /** The options the statistics were computed with (confidence, alpha, thresholds). */
  readonly settings: {
    readonly confidence: number;
    readonly alpha: number;
    readonly minSamples: number;
    readonly maxPairsSamples: number;
    /** CPUs of the target's host, when the run recorded them (sets the default thread cap). */
    readonly cpus?: number;
  };
  readonly overall: OverallVerdict;
  /** Heap captures during the run (from the manifest), marked on the charts. */
  readonly captures?: readonly CaptureMark[];
  readonly series: readonly SeriesAnalysis[];
  readonly threads: ThreadAnalysis | null;
  readonly heap: HeapSection | null;
  readonly phases: readonly PhaseLoadSummary[];
  readonly warnings: readonly string[];
}
