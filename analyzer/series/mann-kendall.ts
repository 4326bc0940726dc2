/**
 * Mann–Kendall trend test (Mann 1945, Kendall 1975) of a series in time order, with the
 * tie-corrected variance and, optionally, Hamed & Rao's (1998) correction for serial
 * correlation: memory samples are strongly autocorrelated (a GC sawtooth spans many
 * samples), and the plain test, which assumes independent samples, calls such a sawtooth a
 * trend. The correction inflates Var(S) by n/n*, computed from the significant
 * autocorrelations of the ranks of the detrended series.
 */
import type { TrendTest } from '../../common/analysis-format.js';
import { averageRanks, kendallVariance, NO_TIES, tieTerms } from './kendall.js';
import { normalQuantile, twoSidedP } from './normal.js';

export interface MannKendallOptions {
  /**
   * Residuals (series minus its fitted trend) whose rank autocorrelation gives the
   * Hamed–Rao variance inflation; omit to assume independent samples.
   */
  readonly residuals?: ArrayLike<number>;
  /** Significance level for keeping an autocorrelation lag (Hamed–Rao use 0.05). */
  readonly lagAlpha?: number;
}

/**
 * Hamed–Rao n/n*: 1 + 2/(n(n−1)(n−2)) Σ_k (n−k)(n−k−1)(n−k−2) ρ_k over lags whose rank
 * autocorrelation ρ_k is significant. Floored at 1: negative correlation is not allowed to
 * make a leak claim more confident than independent samples would.
 * @example varianceInflation(residualsOfSawtooth) // ≫ 1
 */
export function varianceInflation(residuals: ArrayLike<number>, lagAlpha = 0.05): number {
  const n = residuals.length;
  if (n < 4) return 1;
  const r = averageRanks(residuals);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += r[i]!;
  mean /= n;
  let denom = 0;
  for (let i = 0; i < n; i++) {
    r[i]! -= mean;
    denom += r[i]! * r[i]!;
  }
  if (denom === 0) return 1;
  const bound = normalQuantile(1 - lagAlpha / 2) / Math.sqrt(n);
  let sum = 0;
  for (let k = 1; k < n - 2; k++) {
    let num = 0;
    for (let i = 0; i + k < n; i++) num += r[i]! * r[i + k]!;
    const rho = num / denom;
    if (Math.abs(rho) > bound) sum += (n - k) * (n - k - 1) * (n - k - 2) * rho;
  }
  return Math.max(1, 1 + (2 / (n * (n - 1) * (n - 2))) * sum);
}

/**
 * Mann–Kendall test of `y` (in time order): S, tie-corrected (and optionally
 * autocorrelation-corrected) variance, continuity-corrected z, two-sided p and tau-b.
 * @example mannKendall([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]).pValue // < 0.001
 */
export function mannKendall(
  y: ArrayLike<number>,
  opts: MannKendallOptions = {},
): TrendTest & { readonly varianceInflation: number } {
  const n = y.length;
  let s = 0;
  for (let i = 0; i < n - 1; i++) {
    const yi = y[i]!;
    for (let j = i + 1; j < n; j++) s += Math.sign(y[j]! - yi);
  }
  const ties = tieTerms(y);
  const inflation = opts.residuals ? varianceInflation(opts.residuals, opts.lagAlpha) : 1;
  const variance = kendallVariance(n, NO_TIES, ties) * inflation;
  const z = variance > 0 ? (s - Math.sign(s)) / Math.sqrt(variance) : 0;
  const pairs = (n * (n - 1)) / 2;
  const tieY = ties.c / 2;
  const tauDen = Math.sqrt(pairs * (pairs - tieY));
  return {
    test: 'mann-kendall',
    s,
    variance,
    z,
    pValue: variance > 0 ? twoSidedP(z) : 1,
    tau: tauDen > 0 ? s / tauDen : 0,
    varianceInflation: inflation,
  };
}
