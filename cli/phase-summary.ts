/** The line `leakscope run` prints for each phase's result: counts, latency percentiles, statuses. */
import type { LatencySummary, PhaseResult } from '../common/run-format.js';

const ms = (x: number) => (x < 10 ? x.toFixed(2) : x.toFixed(1));
const percentiles = (l: LatencySummary | undefined) => (l ? `${ms(l.p50Ms)}/${ms(l.p99Ms)} ms` : '–');

/**
 * One phase's summary, the same for every transport. A closed loop has no intended send
 * times, so its "from intended" reads "–".
 * @example phaseSummaryLine(result) // "steady: 600/600 completed, 0 dropped, 0 cut, 0 errors, p50/p99 1.20/4.50 ms from intended, 1.10/3.90 ms from sent · 200=600"
 */
export function phaseSummaryLine(r: PhaseResult): string {
  const statuses = Object.entries(r.statusCounts)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${r.name}: ${r.completed}/${r.planned} completed, ${r.dropped} dropped, ${r.cut ?? 0} cut, ${r.errors} errors, p50/p99 ${percentiles(r.latencyFromIntended)} from intended, ${percentiles(r.latencyFromSent)} from sent · ${statuses}`;
}
