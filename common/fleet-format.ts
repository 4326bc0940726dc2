/**
 * What `leakscope fleet` concludes about a fleet read from Prometheus: the hand-off from
 * fleet/ (fetch + statistics) to the CLI's printing and reports/ (the fleet report).
 * Plain JSON, like analysis.json (absent numbers are null). Format 1.
 */
import type { Estimate, SeriesAnalysis, SeriesKey, SeriesUnit, Verdict } from './analysis-format.js';

export const FLEET_FORMAT = 1;

/** A rank test of two samples (Mann–Whitney U). */
export interface RankTest {
  readonly test: 'mann-whitney';
  readonly n1: number;
  readonly n2: number;
  /** U of the first sample (the canary). */
  readonly u: number;
  readonly pValue: number;
  readonly alternative: 'greater' | 'less' | 'two-sided';
  readonly method: 'exact' | 'normal';
  /** U / (n₁n₂): chance that a canary value beats a baseline value. */
  readonly commonLanguage: number;
  /** Hodges–Lehmann shift, canary − baseline. */
  readonly shift: number;
}

/** A stretch of one process's life: restarts (and counter resets) end one and start the next. */
export interface FleetSegment {
  readonly startMs: number;
  readonly endMs: number;
  readonly samples: number;
  /** How the segment ended: the range ended, or the process restarted (its counter reset or start time changed). */
  readonly end: 'range-end' | 'restart';
  /** Ended by a restart right after RSS came within 10 % of the memory limit. */
  readonly oomKilled: boolean;
  /** Highest RSS in the segment (bytes), when sampled. */
  readonly peakRssBytes: number | null;
}

export interface InstanceJudgement {
  /** Value of the grouping label (e.g. instance="10.0.0.7:8501"). */
  readonly instance: string;
  /** 'canary' / 'baseline' in a canary comparison, absent otherwise. */
  readonly group?: 'canary' | 'baseline';
  readonly verdict: Verdict;
  readonly headline: string;
  /** Per series, the worst verdict over the segments long enough to judge. */
  readonly series: readonly SeriesAnalysis[];
  readonly segments: readonly FleetSegment[];
  readonly restarts: number;
  readonly oomKills: number;
  /** Budget checks that failed, one line each. */
  readonly failures: readonly string[];
  readonly pass: boolean;
  /** Memory projection from RSS's growth per second in the latest segment that has a rate. */
  readonly projection: {
    readonly lastRssBytes: number | null;
    readonly rssPerHour: Estimate | null;
    readonly limitBytes: number | null;
    /** Hours until RSS reaches the limit at the estimated rate; null when not growing or no limit. */
    readonly hoursToLimit: number | null;
  };
  /** RSS over time for the report's small multiples: [ms since the range's start, bytes], downsampled. */
  readonly rssChart: readonly (readonly [number, number])[];
}

export interface CanaryComparison {
  readonly key: SeriesKey;
  readonly label: string;
  readonly unit: SeriesUnit;
  /** Growth per request of each sub-window of each instance. */
  readonly canarySlopes: readonly number[];
  readonly baselineSlopes: readonly number[];
  readonly test: RankTest;
  /** The shift (canary − baseline, per request) that fails the canary when it is also significant. */
  readonly threshold: number;
  readonly pass: boolean;
  readonly reason: string;
}

export interface CanaryResult {
  readonly canarySelector: string;
  readonly baselineSelector: string;
  readonly canaryInstances: readonly string[];
  readonly baselineInstances: readonly string[];
  readonly windowsPerInstance: number;
  readonly alpha: number;
  readonly comparisons: readonly CanaryComparison[];
  readonly pass: boolean;
  readonly headline: string;
}

export interface FleetCounts {
  readonly instances: number;
  readonly LEAK: number;
  readonly GROWING: number;
  readonly STABLE: number;
  readonly INSUFFICIENT_DATA: number;
  readonly restarts: number;
  readonly oomKills: number;
  readonly failed: number;
}

export interface FleetResult {
  readonly format: typeof FLEET_FORMAT;
  readonly tool: { readonly name: 'leakscope'; readonly version: string };
  readonly analyzedAt: string;
  readonly query: {
    readonly prometheus: string;
    readonly selector: string;
    readonly groupBy: string;
    readonly start: string;
    readonly end: string;
    readonly stepSeconds: number;
    /** Metric names asked for, by series. */
    readonly metrics: Readonly<Record<string, readonly string[]>>;
    /** HTTP requests made to Prometheus and the most run at once. */
    readonly requests: number;
    readonly concurrency: number;
  };
  readonly settings: {
    readonly confidence: number;
    readonly alpha: number;
    readonly maxSamples: number;
    readonly budget: string;
  };
  readonly counts: FleetCounts;
  /** Worst first: LEAK, then GROWING, …; within a verdict the fastest RSS growth first. */
  readonly instances: readonly InstanceJudgement[];
  readonly canary: CanaryResult | null;
  readonly pass: boolean;
  readonly headline: string;
  readonly warnings: readonly string[];
}
