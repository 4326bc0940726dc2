/**
 * Small seeded pseudo-random generators. Not for security: for reproducible model weights
 * and test data, where the same seed must give the same numbers on every machine.
 */

/**
 * mulberry32: a 32-bit-state generator, fast and good enough for weights and test data.
 * Returns a function yielding floats in [0, 1).
 *
 * @example
 * const rand = mulberry32(42);
 * const x = rand(); // same value on every run for seed 42
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Mixes several integers into one 32-bit seed (murmur3's finaliser after each step), so
 * that nearby inputs such as (seed, version 1) and (seed, version 2) give unrelated streams.
 *
 * @example
 * const rand = mulberry32(mixSeed(42, version));
 */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  // High and low 32-bit halves both count, so large versions (timestamps) still differ.
  for (const word of parts.flatMap((p) => [p >>> 0, Math.floor(p / 4294967296) >>> 0])) {
    h = Math.imul(h ^ word, 0x9e3779b1);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

/** Fisher–Yates: shuffles `a` in place, drawing from `rand`. */
export function shuffleInPlace<T>(a: { length: number; [i: number]: T }, rand: () => number): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
}

/**
 * `k` distinct shuffles of `items`, none equal to an order in `exclude`. The caller keeps `k`
 * below the number of orders left (this draws until it has them).
 */
export function distinctShuffles<T>(
  items: readonly T[],
  k: number,
  rand: () => number,
  exclude: Iterable<readonly T[]> = [],
): T[][] {
  const key = (p: readonly T[]) => p.join('\u0000');
  const seen = new Set<string>(Array.from(exclude, key));
  const out: T[][] = [];
  while (out.length < k) {
    const p = [...items];
    shuffleInPlace(p, rand);
    const kp = key(p);
    if (!seen.has(kp)) {
      seen.add(kp);
      out.push(p);
    }
  }
  return out;
}
