/**
 * Whether a run holds the data its own record says it should: each steady phase — those the
 * manifest lists and those the scenario planned but that never ran — has samples up to near
 * its end, at least a fifth of the samples its duration implies at the run's sample interval,
 * and its load results. A run cut short, or a samples.ndjson cut to the warm-up, has gaps; the
 * gate fails on them ("not enough data") rather than judging what is left, and no STABLE
 * verdict stands on them.
 *
 * Why a fifth, not all: the sampler never overlaps two collections, and on a loaded machine a
 * collection from a busy server takes seconds (measured: 12 of 39 samples of a 3.9 s steady
 * phase, 100 ms interval, 2 shared cores). Missing data shows as nothing, or nothing after a
 * point; a slow sampler shows as sparse samples across the whole phase.
 */
import type { SteadyPhaseData } from '../common/analysis-format.js';
import { isRecord } from '../common/objects.js';
import type { RunData } from './run-reader.js';

/** A steady phase has enough samples with at least this share of the expected count. */
export const MIN_SAMPLE_SHARE = 0.2;

/** Its last sample may come this long before its end: the larger of 2 s, 10 intervals and a quarter of the phase. */
const endAllowanceMs = (durationMs: number, intervalMs: number) => Math.max(2000, 10 * intervalMs, durationMs / 4);

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
  const lastT = new Map<string, number>();
  for (const s of run.samples) {
    counts.set(s.phase, (counts.get(s.phase) ?? 0) + 1);
    lastT.set(s.phase, Math.max(lastT.get(s.phase) ?? -Infinity, s.t));
  }
  const withResults = new Set(run.results.phases.map((r) => r.name));
  const one = (phase: string, ms: number, ran: boolean, startMs = 0): SteadyPhaseData => {
    const samples = counts.get(phase) ?? 0;
    const expected = Math.floor(ms / interval);
    const hasResults = ran && withResults.has(phase);
    const last = lastT.get(phase);
    const stopsEarly = ran && samples > 0 && last! < startMs + ms - endAllowanceMs(ms, interval);
    // A planned steady phase the manifest does not list is a gap whatever was sampled: the run stopped short.
    const short = !ran || samples < Math.ceil(expected * MIN_SAMPLE_SHARE) || (expected > 0 && samples === 0);
    const counted = `steady phase ${phase} has ${samples} of ${expected} expected samples`;
    const gap = short
      ? `${counted}${ran ? '' : samples ? ' (it is not in the manifest)' : ' (it never ran)'}`
      : stopsEarly
        ? `${counted}, none in its last ${((startMs + ms - last!) / 1000).toFixed(1)} s of ${(ms / 1000).toFixed(1)} s`
        : !hasResults
          ? `steady phase ${phase} has no load results`
          : undefined;
    return { phase, ran, samples, expected, hasResults, ...(gap ? { gap } : {}) };
  };
  return [
    ...run.manifest.phases.filter((p) => p.steady).map((p) => one(p.name, p.endMs - p.startMs, true, p.startMs)),
    ...plannedNotRun(run).map((p) => one(p.name, p.ms, false)),
  ];
}
