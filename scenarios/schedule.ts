/**
 * Open-model arrival schedules: every request's intended send time is planned up front
 * (ms offsets from the phase start, ascending), so a slow server cannot slow the load
 * down (no coordinated omission). A shape is a list of linear-rate segments; arrivals are
 * placed by inverting the cumulative rate Λ(t): uniform spacing puts request k at
 * Λ(t) = k, Poisson puts it at Λ(t) = the k-th point of a unit-rate Poisson process
 * (time rescaling), so both follow ramps and spikes exactly.
 */
import { LsError } from '../common/errors.js';
import { mixSeed, mulberry32 } from '../common/prng.js';
import { expecting, number, oneOf, v, validate } from '../common/validate.js';

const nonNegative = number({ min: 0 });
const positive = number({ min: 0, aboveMin: true });

/** Constant rate for a duration or for a request count (count wins when both are given). */
const constantSchema = v.pipe(
  v.object({
    kind: v.literal('constant'),
    rate: positive,
    durationS: v.optional(nonNegative),
    requests: v.optional(number({ min: 0, integer: true })),
  }),
  v.forward(
    v.partialCheck(
      [['durationS'], ['requests']],
      (s) => s.durationS !== undefined || s.requests !== undefined,
      'or requests is required for a constant rate',
    ),
    ['durationS'],
  ),
);

/** Rate changing linearly from `fromRate` to `toRate` over `durationS`. */
const rampSchema = v.object({
  kind: v.literal('ramp'),
  fromRate: nonNegative,
  toRate: nonNegative,
  durationS: nonNegative,
});

/** Baseline, then a spike, then baseline again (recovery), in one schedule. */
const spikeSchema = v.object({
  kind: v.literal('spike'),
  baselineRate: nonNegative,
  spikeRate: nonNegative,
  baselineS: nonNegative,
  spikeS: nonNegative,
  recoveryS: nonNegative,
});

const shapeSchema = v.variant('kind', [constantSchema, rampSchema, spikeSchema], expecting('constant, ramp or spike'));
const arrivalsSchema = oneOf(['uniform', 'poisson']);

export type ConstantShape = v.InferOutput<typeof constantSchema>;
export type RampShape = v.InferOutput<typeof rampSchema>;
export type SpikeShape = v.InferOutput<typeof spikeSchema>;
export type ArrivalShape = ConstantShape | RampShape | SpikeShape;

export interface ArrivalOptions {
  /** uniform (default): evenly spaced; poisson: exponential gaps, seeded. */
  readonly arrivals?: 'uniform' | 'poisson';
  readonly seed?: number;
  /** Prefix for error messages, e.g. "phases[1].load" (default "load"). */
  readonly where?: string;
}

/** Schedules larger than this are refused (8 bytes each: 10 M = 80 MB). */
export const MAX_PLANNED_REQUESTS = 10_000_000;

interface Segment {
  readonly durationS: number;
  readonly from: number;
  readonly to: number;
}

const bad = (where: string, field: string, msg: string): LsError =>
  new LsError('LS_ERR_BAD_SCENARIO', `${where}.${field}: ${msg}`);

function segmentsOf(input: ArrivalShape, where: string): { segments: Segment[]; count?: number } {
  const shape = validate(shapeSchema, input, { code: 'LS_ERR_BAD_SCENARIO', at: where });
  switch (shape.kind) {
    case 'constant': {
      const rate = shape.rate;
      if (shape.requests !== undefined) {
        // Long enough for any Poisson draw; the count stops it.
        return { segments: [{ durationS: Infinity, from: rate, to: rate }], count: shape.requests };
      }
      return { segments: [{ durationS: shape.durationS!, from: rate, to: rate }] };
    }
    case 'ramp':
      return { segments: [{ durationS: shape.durationS, from: shape.fromRate, to: shape.toRate }] };
    case 'spike': {
      const base = shape.baselineRate;
      const spike = shape.spikeRate;
      return {
        segments: [
          { durationS: shape.baselineS, from: base, to: base },
          { durationS: shape.spikeS, from: spike, to: spike },
          { durationS: shape.recoveryS, from: base, to: base },
        ],
      };
    }
  }
}

/** Expected request count of a shape (exact for uniform arrivals). */
export function expectedRequests(shape: ArrivalShape, where = 'load'): number {
  const { segments, count } = segmentsOf(shape, where);
  if (count !== undefined) return count;
  return segments.reduce((s, g) => s + (g.durationS * (g.from + g.to)) / 2, 0);
}

/** The time t in [0, d] (s) at which ∫0..t (a + (b-a)u/d) du = x. */
function invertLinear(x: number, a: number, b: number, d: number): number {
  if (x <= 0) return 0;
  const k = (b - a) / d;
  if (Math.abs(k) < 1e-12) return x / a;
  // a t + k t²/2 = x  →  t = (-a + sqrt(a² + 2 k x)) / k, written to stay exact as k → 0.
  return (2 * x) / (a + Math.sqrt(Math.max(0, a * a + 2 * k * x)));
}

/**
 * Plans the intended send times of a phase, in ms from the phase start.
 * Equals the load part of a scenario phase in `leakscope run`.
 *
 * @example
 * const t = planArrivals({ kind: 'ramp', fromRate: 10, toRate: 100, durationS: 5 }, { arrivals: 'poisson', seed: 7 });
 * // t.length ≈ 275, t[0] ≈ 0, t[t.length - 1] < 5000
 */
export function planArrivals(shape: ArrivalShape, opts: ArrivalOptions = {}): Float64Array {
  const where = opts.where ?? 'load';
  const arrivals = validate(arrivalsSchema, opts.arrivals ?? 'uniform', {
    code: 'LS_ERR_BAD_SCENARIO',
    at: `${where}.arrivals`,
  });
  const { segments, count } = segmentsOf(shape, where);
  const expected = count ?? segments.reduce((s, g) => s + (g.durationS * (g.from + g.to)) / 2, 0);
  // Poisson counts exceed the mean by a few sigma at most.
  const cap = Math.ceil(count ?? expected + 10 * Math.sqrt(expected) + 10);
  if (expected > MAX_PLANNED_REQUESTS)
    throw bad(
      where,
      'rate',
      `plans ${Math.round(expected)} requests, more than the ${MAX_PLANNED_REQUESTS} one phase may hold`,
    );
  const out = new Float64Array(cap);
  const rand = mulberry32(mixSeed(opts.seed ?? 1, 0xa771));
  let n = 0;
  let x = 0; // position in Λ units
  let segStartS = 0;
  let segStartX = 0;
  let segIdx = 0;
  const next = () => {
    if (arrivals === 'uniform') return n === 0 ? 0 : 1;
    return -Math.log(1 - rand());
  };
  while (n < cap) {
    x += next();
    // Advance to the segment holding cumulative position x.
    let seg = segments[segIdx];
    while (seg && x >= segStartX + (seg.durationS * (seg.from + seg.to)) / 2) {
      segStartX += (seg.durationS * (seg.from + seg.to)) / 2;
      segStartS += seg.durationS;
      seg = segments[++segIdx];
    }
    if (!seg) break;
    const tS = segStartS + invertLinear(x - segStartX, seg.from, seg.to, seg.durationS);
    out[n++] = tS * 1000;
  }
  return out.subarray(0, n).slice();
}

/** Total duration of a shape in ms (for count-bounded constant rates: count / rate). */
export function shapeDurationMs(shape: ArrivalShape, where = 'load'): number {
  const { segments, count } = segmentsOf(shape, where);
  if (count !== undefined) return (count / segments[0]!.from) * 1000;
  return segments.reduce((s, g) => s + g.durationS, 0) * 1000;
}
