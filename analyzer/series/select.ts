/** In-place selection of order statistics (Hoare's quickselect), O(n) on average. */

/**
 * Moves the k-th smallest of a[lo, hi) to a[k], smaller ones before it and larger after,
 * and returns it. Median-of-three pivots; deterministic.
 * @example const a = Float64Array.of(5, 1, 4); selectKth(a, 1) // 4
 */
export function selectKth(a: Float64Array, k: number, lo = 0, hi = a.length): number {
  if (k < lo || k >= hi) throw new RangeError(`selectKth: k=${k} outside [${lo}, ${hi})`);
  let l = lo;
  let r = hi - 1;
  while (r > l) {
    const m = (l + r) >>> 1;
    // Median of three into a[m], then partition around it.
    if (a[m]! < a[l]!) swap(a, m, l);
    if (a[r]! < a[l]!) swap(a, r, l);
    if (a[r]! < a[m]!) swap(a, r, m);
    const pivot = a[m]!;
    let i = l;
    let j = r;
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (a[j]! > pivot) j--;
      if (i <= j) {
        swap(a, i, j);
        i++;
        j--;
      }
    }
    if (k <= j) r = j;
    else if (k >= i) l = i;
    else break;
  }
  return a[k]!;
}

function swap(a: Float64Array, i: number, j: number): void {
  const t = a[i]!;
  a[i] = a[j]!;
  a[j] = t;
}

/**
 * Several order statistics at once (ascending ks), each selection confined to the part
 * the previous one left to its right.
 * @example orderStatistics(Float64Array.of(3, 1, 2), [0, 2]) // [1, 3]
 */
export function orderStatistics(a: Float64Array, ks: readonly number[]): number[] {
  const order = ks.map((k, i) => ({ k, i })).sort((p, q) => p.k - q.k);
  const out = new Array<number>(ks.length);
  let lo = 0;
  for (const { k, i } of order) {
    out[i] = selectKth(a, k, lo, a.length);
    lo = k;
  }
  return out;
}
