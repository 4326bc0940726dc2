/**
 * Whether a run holds the data its own record says it should: each steady phase — those the
 * manifest lists and those the scenario planned but that never ran — has at least half the
 * samples its duration implies at the run's sample interval, and its load results. A run cut
 * short, or a samples.ndjson cut to the warm-up, has gaps; the gate fails on them ("not enough
 * data") rather than judging what is left, and no STABLE verdict stands on them.
 */
import type { SteadyPhaseData } from '../common/analysis-format.js';
import { isRecord } from '../common/objects.js';
import type { RunData } from './run-reader.js';

/** A steady phase has enough samples with at least this share of the expected count. */
export const MIN_SAMPLE_SHARE = 0.5;

/** Planned duration (ms) of a phase of the scenario definition: durationS, or requests / rate; undefined if unknown. */
function plannedMs(p: Record<string, unknown>): number | undefined {
  const { durationS, requests, rate } = p;
  if (typeof durationS === 'number' && durationS > 0) return durationS * 1000;
  if (typeof requests === 'number' && typeof rate === 'number' && requests > 0 && rate > 0)
    return (requests / rate) * 1000;
  return undefined;
}

/** The scenario's planned steady phases that the manifest does not list (the run stopped before them). */
function plannedNotRun(run: RunData): { name: string; ms: number }[] {
  const planned = run.manifest.scenario.definition?.phases;
  if (!Array.isArray(planned)) return [];
  const listed = new Set(run.manifest.phases.map((p) => p.name));
  return planned.flatMap((p) => {
    if (!isRecord(p) || p.steady !== true || typeof p.name !== 'string' || listed.has(p.name)) return [];
    const ms = plannedMs(p);
    return ms === undefined ? [] : [{ name: p.name, ms }];
  });
}

/**
 * Samples and results of every steady phase, ran or planned, with the gap when there is one.
 * @example steadyPhaseData(readRun(dir)).filter((d) => d.gap)
 */
export function steadyPhaseData(run: RunData): SteadyPhaseData[] {
  const interval = run.manifest.sampleIntervalMs;
  const counts = new Map<string, number>();
  for (const s of run.samples) counts.set(s.phase, (counts.get(s.phase) ?? 0) + 1);
  const withResults = new Set(run.results.phases.map((r) => r.name));
  const one = (phase: string, ms: number, ran: boolean): SteadyPhaseData => {
    const samples = counts.get(phase) ?? 0;
    const expected = Math.floor(ms / interval);
    const hasResults = ran && withResults.has(phase);
    // A planned steady phase the manifest does not list is a gap whatever was sampled: the run stopped short.
    const short = !ran || samples < Math.ceil(expected * MIN_SAMPLE_SHARE) || (expected > 0 && samples === 0);
    const gap = short
      ? `steady phase ${phase} has ${samples} of ${expected} expected samples${ran ? '' : samples ? ' (it is not in the manifest)' : ' (it never ran)'}`
      : !hasResults
        ? `steady phase ${phase} has no load results`
        : undefined;
    return { phase, ran, samples, expected, hasResults, ...(gap ? { gap } : {}) };
  };
  return [
    ...run.manifest.phases.filter((p) => p.steady).map((p) => one(p.name, p.endMs - p.startMs, true)),
    ...plannedNotRun(run).map((p) => one(p.name, p.ms, false)),
  ];
}
