/**
 * The index of the last of the first `length` entries of an ascending array that is at most
 * `x` (0 when none is): O(log n). Equal entries resolve to the last of them.
 */
export function lastAtMost(sorted: ArrayLike<number>, length: number, x: number): number {
  let lo = 0;
  let hi = length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (sorted[mid]! <= x) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
