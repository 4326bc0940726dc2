/**
 * Kendall's S statistic and its null variance with ties: the shared core of the
 * Mann–Kendall trend test and of Sen's confidence interval for the Theil–Sen slope.
 */

export interface TieTerms {
  /** Σ t(t−1)(2t+5) over tie groups of size t. */
  readonly a: number;
  /** Σ t(t−1)(t−2). */
  readonly b: number;
  /** Σ t(t−1). */
  readonly c: number;
}

export const NO_TIES: TieTerms = Object.freeze({ a: 0, b: 0, c: 0 });

/**
 * Tie-group terms of a set of values (exact equality).
 * @example tieTerms([1, 1, 2]) // { a: 18, b: 0, c: 2 }
 */
export function tieTerms(values: ArrayLike<number>): TieTerms {
  const s = Float64Array.from(values).sort();
  let a = 0;
  let b = 0;
  let c = 0;
  for (let i = 0; i < s.length; ) {
    let j = i + 1;
    while (j < s.length && s[j] === s[i]) j++;
    const t = j - i;
    if (t > 1) {
      a += t * (t - 1) * (2 * t + 5);
      b += t * (t - 1) * (t - 2);
      c += t * (t - 1);
    }
    i = j;
  }
  return { a, b, c };
}

/**
 * Null variance of Kendall's S for n pairs (x, y) with ties in x (tx) and in y (ty)
 * (Kendall 1975, eq. 4.3). With no ties: n(n−1)(2n+5)/18.
 * @example kendallVariance(10, NO_TIES, NO_TIES) // 125
 */
export function kendallVariance(n: number, tx: TieTerms, ty: TieTerms): number {
  if (n < 2) return 0;
  let v = (n * (n - 1) * (2 * n + 5) - tx.a - ty.a) / 18;
  v += (tx.c * ty.c) / (2 * n * (n - 1));
  if (n > 2) v += (tx.b * ty.b) / (9 * n * (n - 1) * (n - 2));
  return v;
}

/**
 * S = Σ_{i<j} sign(x_j − x_i)·sign(y_j − y_i), O(n²).
 * @example kendallS([1, 2, 3], [1, 3, 2]) // 1
 */
export function kendallS(x: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = x.length;
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    const xi = x[i]!;
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) s += Math.sign(x[j]! - xi) * Math.sign(y[j]! - yi);
  }
  return s;
}

/** Average ranks (1-based; ties share the mean of their ranks). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const idx = Array.from({ length: n }, (_, i) => i).sort((p, q) => values[p]! - values[q]!);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n; ) {
    let j = i + 1;
    while (j < n && values[idx[j]!] === values[idx[i]!]) j++;
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[idx[k]!] = r;
    i = j;
  }
  return ranks;
}
