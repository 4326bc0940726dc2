/**
 * Latency recording for the load drivers: an HDR histogram in microseconds (1 µs to
 * 10 min, 3 significant digits), summarised into the run format's LatencySummary with the
 * histogram itself attached, compressed and base64-encoded, so reports can merge phases
 * or draw full percentile curves later.
 */
import * as hdr from 'hdr-histogram-js';
import type { LatencySummary } from '../common/run-format.js';

const HIGHEST_US = 600_000_000;

export interface LatencyRecorder {
  /** Records one latency in milliseconds (clamped to 1 µs .. 10 min). */
  recordMs(ms: number): void;
  readonly count: number;
  /** The summary, or undefined when nothing was recorded. Frees nothing: call free(). */
  summary(): LatencySummary | undefined;
  free(): void;
}

/**
 * A fresh latency recorder.
 * @example
 * const r = latencyRecorder(); r.recordMs(1.5); const s = r.summary(); r.free();
 */
export function latencyRecorder(): LatencyRecorder {
  const h = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: HIGHEST_US,
    numberOfSignificantValueDigits: 3,
  });
  return {
    recordMs(ms) {
      h.recordValue(Math.min(HIGHEST_US, Math.max(1, Math.round(ms * 1000))));
    },
    get count() {
      return h.totalCount;
    },
    summary() {
      if (h.totalCount === 0) return undefined;
      const p = (q: number) => h.getValueAtPercentile(q) / 1000;
      return {
        count: h.totalCount,
        meanMs: h.mean / 1000,
        p50Ms: p(50),
        p90Ms: p(90),
        p99Ms: p(99),
        p999Ms: p(99.9),
        maxMs: h.maxValue / 1000,
        hdr: hdr.encodeIntoCompressedBase64(h),
      };
    },
    free() {
      h.destroy();
    },
  };
}

/**
 * Decodes the `hdr` field of a LatencySummary back into a histogram (µs), e.g. to merge
 * phases. The caller destroys it.
 * @example const h = decodeLatencyHistogram(summary.hdr!); h.getValueAtPercentile(99); h.destroy();
 */
export function decodeLatencyHistogram(encoded: string): hdr.Histogram {
  return hdr.decodeFromCompressedBase64(encoded);
}
