/**
 * One instance's life on the grid, cut into segments at restarts: a process start time
 * that changes, or a request counter that goes down (a counter reset, which is what a
 * restart does to every counter). Within and across segments the request counter becomes
 * one cumulative count, as Prometheus' increase() reads it (after a reset the counter
 * started again from zero). A restart right after RSS came within 10 % of the memory
 * limit is reported as an OOM kill: that is what the kernel's OOM killer leaves behind in
 * the metrics (the container's RSS at its limit, then a new process).
 */
import type { FleetSegment } from '../common/fleet-format.js';
import type { FleetData, InstanceSeries } from './fetch-fleet.js';

/** Fraction of the limit RSS must reach just before a restart for it to count as an OOM kill. */
export const OOM_FRACTION = 0.9;
/** cAdvisor reports "no limit" as a huge number; anything above this is not a limit. */
const NO_LIMIT = 2 ** 60;

export interface IndexSegment extends FleetSegment {
  /** Grid indices [from, to). */
  readonly from: number;
  readonly to: number;
  /** First index past the process's warm-up (see instanceTimeline's settleMs); to when none is. */
  readonly settledFrom: number;
}

/**
 * Default warm-up left out of each process's statistics: a serving process fills its
 * allocator arenas, JIT caches and pools in its first minutes — a one-time rise, not growth.
 */
export const DEFAULT_SETTLE_MS = 10 * 60_000;

export interface InstanceTimeline {
  readonly segments: readonly IndexSegment[];
  /** Requests completed since the range's start, counter resets handled (NaN where not scraped). */
  readonly requests: Float64Array;
  readonly limitBytes: number | null;
}

const finite = (v: number | undefined): v is number => v !== undefined && Number.isFinite(v);

/** The instance's memory limit: the one given, else the last container limit it reported. */
function memoryLimit(inst: InstanceSeries, given: number | null): number | null {
  if (given !== null) return given;
  const lim = inst.values.get('memoryLimit');
  if (!lim) return null;
  for (let i = lim.length - 1; i >= 0; i--) if (finite(lim[i]) && lim[i]! > 0 && lim[i]! < NO_LIMIT) return lim[i]!;
  return null;
}

/**
 * Segments and cumulative requests of one instance.
 * @example instanceTimeline(data, inst, 4 * 2 ** 30).segments.length // 1 + restarts
 */
export function instanceTimeline(
  data: FleetData,
  inst: InstanceSeries,
  limitBytes: number | null,
  settleMs = DEFAULT_SETTLE_MS,
): InstanceTimeline {
  const n = data.points;
  const start = inst.values.get('startTime');
  const req = inst.values.get('requests');
  const rss = inst.values.get('rssBytes');
  const limit = memoryLimit(inst, limitBytes);
  const cumulative = new Float64Array(n).fill(NaN);
  const present = (i: number) => {
    for (const a of inst.values.values()) if (finite(a[i])) return true;
    return false;
  };
  const segments: IndexSegment[] = [];
  let from = -1;
  let last = -1;
  let lastStart = NaN;
  let lastReq = NaN;
  let cum = 0;
  const close = (to: number, end: FleetSegment['end']) => {
    let peak = -Infinity;
    const tail: number[] = [];
    for (let i = from; i < to; i++) {
      if (rss && finite(rss[i])) {
        peak = Math.max(peak, rss[i]!);
        tail.push(rss[i]!);
      }
    }
    const nearLimit = limit !== null && tail.slice(-3).some((v) => v >= OOM_FRACTION * limit);
    let samples = 0;
    for (let i = from; i < to; i++) if (present(i)) samples++;
    // Warm-up: by the process's start time when exported, else from a restart seen here
    // (a process already running when the range starts is taken as settled).
    let settledFrom = from;
    for (let i = from; i < to; i++) {
      const st = start?.[i];
      const age = finite(st)
        ? data.startMs + i * data.stepMs - st * 1000
        : segments.length
          ? (i - from) * data.stepMs
          : settleMs;
      if (age >= settleMs) break;
      settledFrom = i + 1;
    }
    segments.push({
      from,
      to,
      settledFrom,
      startMs: from * data.stepMs,
      endMs: Math.max(last, from) * data.stepMs,
      samples,
      end,
      oomKilled: end === 'restart' && nearLimit,
      peakRssBytes: peak === -Infinity ? null : peak,
    });
  };
  for (let i = 0; i < n; i++) {
    if (!present(i)) continue;
    const st = start?.[i];
    const rq = req?.[i];
    const restarted =
      from >= 0 &&
      ((finite(st) && finite(lastStart) && Math.abs(st - lastStart) > 1) ||
        (finite(rq) && finite(lastReq) && rq < lastReq));
    if (restarted) {
      close(i, 'restart');
      from = -1;
    }
    if (from < 0) from = i;
    if (finite(rq)) {
      if (finite(lastReq)) cum += restarted ? rq : rq - lastReq;
      cumulative[i] = cum;
      lastReq = rq;
    }
    if (finite(st)) lastStart = st;
    last = i;
  }
  if (from >= 0) close(last + 1, 'range-end');
  return { segments, requests: cumulative, limitBytes: limit };
}
