/**
 * Mann–Whitney U test (Wilcoxon rank-sum) of two independent samples, as Kayenta's
 * canary judge uses to compare a canary's metric with its baseline's: average ranks for
 * ties, the exact null distribution when there are no ties and the samples are small
 * (counted by dynamic programming over rank sums), otherwise the normal approximation
 * with the tie-corrected variance and a continuity correction (Conover 1999, §5.1).
 * Effect sizes: the common-language effect P(X > Y) + ½P(X = Y) = U/(n₁n₂), and the
 * Hodges–Lehmann shift (median of all differences x − y).
 */
import { averageRanks, tieTerms } from './kendall.js';
import { normalUpperTail } from './normal.js';
import { orderStatistics } from './select.js';

export type Alternative = 'greater' | 'less' | 'two-sided';

export interface MannWhitneyResult {
  readonly test: 'mann-whitney';
  readonly n1: number;
  readonly n2: number;
  /** U of the first sample: pairs where x > y, plus half the ties. */
  readonly u: number;
  /** p-value for the alternative asked for (x stochastically greater, less, or either). */
  readonly pValue: number;
  readonly alternative: Alternative;
  readonly method: 'exact' | 'normal';
  /** U / (n₁n₂): the chance that a value of the first sample beats one of the second. */
  readonly commonLanguage: number;
  /** Hodges–Lehmann estimate of the shift x − y. */
  readonly shift: number;
}

/** Largest n₁ + n₂ for the exact distribution (the count table is n₁ × n₁n₂ numbers). */
const EXACT_MAX_N = 60;

/**
 * counts[u] = number of ways the first sample's ranks give U = u, over all C(n₁+n₂, n₁)
 * equally likely rank sets (no ties). Recurrence on the largest rank: it belongs either to
 * the first sample (adding n₂ to U) or to the second.
 */
function exactCounts(n1: number, n2: number): Float64Array {
  // f[i][u] over i first-sample items placed among j second-sample items, built up in j.
  const max = n1 * n2;
  // j = 0: no second-sample item to beat, so U = 0 whatever i is.
  let prev: Float64Array[] = Array.from({ length: n1 + 1 }, () => {
    const a = new Float64Array(max + 1);
    a[0] = 1;
    return a;
  });
  for (let j = 1; j <= n2; j++) {
    const cur: Float64Array[] = [];
    const zero = new Float64Array(max + 1);
    zero[0] = 1;
    cur.push(zero);
    for (let i = 1; i <= n1; i++) {
      const a = new Float64Array(max + 1);
      // Largest element is the i-th first-sample item (beats all j) or the j-th second-sample item.
      const withX = cur[i - 1]!;
      const withY = prev[i]!;
      for (let u = 0; u <= max; u++) a[u] = (u >= j ? withX[u - j]! : 0) + withY[u]!;
      cur.push(a);
    }
    prev = cur;
  }
  return prev[n1]!;
}

function exactP(u: number, n1: number, n2: number, alt: Alternative): number {
  const counts = exactCounts(n1, n2);
  let total = 0;
  for (const c of counts) total += c;
  let upper = 0;
  let lower = 0;
  for (let k = 0; k < counts.length; k++) {
    if (k >= u) upper += counts[k]!;
    if (k <= u) lower += counts[k]!;
  }
  if (alt === 'greater') return upper / total;
  if (alt === 'less') return lower / total;
  return Math.min(1, (2 * Math.min(upper, lower)) / total);
}

/**
 * Mann–Whitney U test of `x` against `y`.
 * @example mannWhitney([5, 6, 7, 8], [1, 2, 3, 4], 'greater').pValue // 1/70 ≈ 0.014 (exact)
 */
export function mannWhitney(
  x: readonly number[],
  y: readonly number[],
  alternative: Alternative = 'two-sided',
): MannWhitneyResult {
  const n1 = x.length;
  const n2 = y.length;
  if (n1 === 0 || n2 === 0) throw new RangeError(`mannWhitney: both samples need values (got ${n1} and ${n2})`);
  const pooled = [...x, ...y];
  const ranks = averageRanks(pooled);
  let r1 = 0;
  for (let i = 0; i < n1; i++) r1 += ranks[i]!;
  const u = r1 - (n1 * (n1 + 1)) / 2;
  const n = n1 + n2;
  // The variance correction Σ(t³ − t) over tie groups: t(t−1)(t−2) + 3t(t−1) in Kendall's terms.
  const ties = tieTerms(pooled);
  const tieSum = ties.b + 3 * ties.c;
  let pValue: number;
  let method: MannWhitneyResult['method'];
  if (tieSum === 0 && n <= EXACT_MAX_N) {
    pValue = exactP(u, n1, n2, alternative);
    method = 'exact';
  } else {
    const mean = (n1 * n2) / 2;
    const variance = ((n1 * n2) / 12) * (n + 1 - tieSum / (n * (n - 1)));
    method = 'normal';
    if (variance <= 0) pValue = 1;
    else {
      const sd = Math.sqrt(variance);
      const upper = normalUpperTail((u - mean - 0.5) / sd);
      const lower = normalUpperTail((mean - u - 0.5) / sd);
      pValue =
        alternative === 'greater' ? upper : alternative === 'less' ? lower : Math.min(1, 2 * Math.min(upper, lower));
    }
  }
  // Hodges–Lehmann: the median of all n₁n₂ differences, by selection (a canary against a
  // large baseline has millions of them; sorting them all is most of the test's time).
  const diffs = new Float64Array(n1 * n2);
  let d = 0;
  for (const a of x) for (const b of y) diffs[d++] = a - b;
  const [lowMid, highMid] = orderStatistics(diffs, [(diffs.length - 1) >> 1, diffs.length >> 1]);
  return {
    test: 'mann-whitney',
    n1,
    n2,
    u,
    pValue,
    alternative,
    method,
    commonLanguage: u / (n1 * n2),
    shift: (lowMid! + highMid!) / 2,
  };
}
