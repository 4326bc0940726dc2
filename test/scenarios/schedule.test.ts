import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LsError } from '../../common/errors.js';
import { expectedRequests, planArrivals, shapeDurationMs } from '../../scenarios/schedule.js';

const ascending = (t: Float64Array) => t.every((v, i) => i === 0 || v >= t[i - 1]!);

test('constant rate for a duration: exact count, even spacing, inside the window', () => {
  const t = planArrivals({ kind: 'constant', rate: 100, durationS: 2 });
  assert.equal(t.length, 200);
  assert.equal(t[0], 0);
  assert.ok(Math.abs(t[1]! - 10) < 1e-9);
  assert.ok(t[199]! < 2000);
  assert.ok(ascending(t));
});

test('constant rate for a request count: exactly that many, uniform or Poisson', () => {
  assert.equal(planArrivals({ kind: 'constant', rate: 50, requests: 123 }).length, 123);
  const p = planArrivals({ kind: 'constant', rate: 50, requests: 123 }, { arrivals: 'poisson', seed: 3 });
  assert.equal(p.length, 123);
  assert.ok(ascending(p));
  assert.equal(shapeDurationMs({ kind: 'constant', rate: 50, requests: 100 }), 2000);
});

test('Poisson arrivals: mean rate right, gaps exponential-like (cv ≈ 1), seeded', () => {
  const a = planArrivals({ kind: 'constant', rate: 1000, durationS: 10 }, { arrivals: 'poisson', seed: 11 });
  const b = planArrivals({ kind: 'constant', rate: 1000, durationS: 10 }, { arrivals: 'poisson', seed: 11 });
  const c = planArrivals({ kind: 'constant', rate: 1000, durationS: 10 }, { arrivals: 'poisson', seed: 12 });
  assert.deepEqual(a, b);
  assert.notDeepEqual(a, c);
  assert.ok(Math.abs(a.length - 10_000) < 500, `count ${a.length}`);
  const gaps = Array.from(a.subarray(1), (v, i) => v - a[i]!);
  const mean = gaps.reduce((s, g) => s + g, 0) / gaps.length;
  const sd = Math.sqrt(gaps.reduce((s, g) => s + (g - mean) ** 2, 0) / gaps.length);
  assert.ok(Math.abs(mean - 1) < 0.05, `mean gap ${mean}`);
  assert.ok(Math.abs(sd / mean - 1) < 0.1, `cv ${sd / mean}`);
});

test('linear ramp: count is the area, density follows the rate', () => {
  const t = planArrivals({ kind: 'ramp', fromRate: 10, toRate: 110, durationS: 4 });
  assert.equal(t.length, 240);
  assert.equal(expectedRequests({ kind: 'ramp', fromRate: 10, toRate: 110, durationS: 4 }), 240);
  const firstSecond = t.filter((v) => v < 1000).length;
  const lastSecond = t.filter((v) => v >= 3000).length;
  assert.ok(firstSecond >= 20 && firstSecond <= 25, `first second ${firstSecond}`); // ∫0..1 = 22.5
  assert.ok(lastSecond >= 95 && lastSecond <= 100, `last second ${lastSecond}`); // ∫3..4 = 97.5
  assert.ok(t[t.length - 1]! < 4000 && ascending(t));
  // A ramp from zero works too.
  assert.equal(planArrivals({ kind: 'ramp', fromRate: 0, toRate: 100, durationS: 2 }).length, 100);
});

test('spike: baseline, spike, recovery counts per window', () => {
  const t = planArrivals({ kind: 'spike', baselineRate: 20, spikeRate: 500, baselineS: 2, spikeS: 1, recoveryS: 2 });
  assert.equal(t.length, 40 + 500 + 40);
  assert.equal(t.filter((v) => v < 2000).length, 40);
  assert.equal(t.filter((v) => v >= 2000 && v < 3000).length, 500);
  assert.equal(t.filter((v) => v >= 3000).length, 40);
  const p = planArrivals(
    { kind: 'spike', baselineRate: 20, spikeRate: 500, baselineS: 2, spikeS: 1, recoveryS: 2 },
    { arrivals: 'poisson', seed: 5 },
  );
  const inSpike = p.filter((v) => v >= 2000 && v < 3000).length;
  assert.ok(inSpike > 420 && inSpike < 580, `spike ${inSpike}`);
});

test('bad shapes: LS_ERR_BAD_SCENARIO naming the field', () => {
  const code = (f: () => unknown, field: RegExp) =>
    assert.throws(f, (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_BAD_SCENARIO' && field.test(e.message));
  code(() => planArrivals({ kind: 'constant', rate: 0, durationS: 1 }, { where: 'phases[1]' }), /phases\[1\]\.rate/);
  code(() => planArrivals({ kind: 'constant', rate: 10 }), /durationS/);
  code(() => planArrivals({ kind: 'ramp', fromRate: 1, toRate: -1, durationS: 1 }), /toRate/);
  code(() => planArrivals({ kind: 'wave' } as never), /kind/);
  code(() => planArrivals({ kind: 'constant', rate: 1, durationS: 1 }, { arrivals: 'bursty' as never }), /arrivals/);
  code(() => planArrivals({ kind: 'constant', rate: 1e6, durationS: 1000 }), /rate/);
});

/** Kolmogorov–Smirnov distance between the sorted sample `xs` and the CDF `cdf`. */
function ksDistance(xs: readonly number[], cdf: (x: number) => number): number {
  const s = [...xs].sort((a, b) => a - b);
  let d = 0;
  for (const [i, x] of s.entries()) {
    const f = cdf(x);
    d = Math.max(d, Math.abs((i + 1) / s.length - f), Math.abs(f - i / s.length));
  }
  return d;
}
/** KS critical distance at α = 0.01 for n samples (large-n form). */
const ksCritical = (n: number) => 1.628 / Math.sqrt(n);

test('Poisson send times pass a KS test: exponential gaps at a constant rate, Λ(t)/Λ(T) along a ramp', () => {
  // The intended send times are a function of the seed, so these are fixed checks (no clock).
  for (const seed of [1, 2, 3]) {
    const t = planArrivals({ kind: 'constant', rate: 500, durationS: 4 }, { arrivals: 'poisson', seed });
    const gaps = Array.from(t.subarray(1), (v, i) => v - t[i]!);
    const d = ksDistance(gaps, (g) => 1 - Math.exp(-g / 2)); // 500/s: mean gap 2 ms
    assert.ok(
      d < ksCritical(gaps.length),
      `seed ${seed}: KS D ${d.toFixed(4)} ≥ ${ksCritical(gaps.length).toFixed(4)}`,
    );
  }
  // The same test rejects evenly spaced arrivals: it can fail.
  const even = planArrivals({ kind: 'constant', rate: 500, durationS: 4 });
  const evenGaps = Array.from(even.subarray(1), (v, i) => v - even[i]!);
  assert.ok(ksDistance(evenGaps, (g) => 1 - Math.exp(-g / 2)) > 3 * ksCritical(evenGaps.length));

  // Ramp 100 → 900/s over 2 s: Λ(t) = 100 t + 200 t², so send times follow Λ(t)/Λ(2) given their count.
  const cdf = (ms: number) => {
    const s = ms / 1000;
    return (100 * s + 200 * s * s) / 1000;
  };
  const ramp = planArrivals(
    { kind: 'ramp', fromRate: 100, toRate: 900, durationS: 2 },
    { arrivals: 'poisson', seed: 9 },
  );
  assert.ok(Math.abs(ramp.length - 1000) < 4 * Math.sqrt(1000), `count ${ramp.length}`);
  const d = ksDistance(Array.from(ramp), cdf);
  assert.ok(d < ksCritical(ramp.length), `ramp KS D ${d.toFixed(4)}`);
  // …and rejects a constant-rate schedule of the same count over the same window.
  const flat = planArrivals({ kind: 'constant', rate: 500, durationS: 2 }, { arrivals: 'poisson', seed: 9 });
  assert.ok(ksDistance(Array.from(flat), cdf) > 3 * ksCritical(flat.length));
});
