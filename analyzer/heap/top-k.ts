/** Indices of the k largest values among candidates, without sorting everything. */
export function topK(
  count: number,
  k: number,
  value: (i: number) => number,
  keep: (i: number) => boolean = () => true,
): number[] {
  if (k <= 0) return [];
  const best: number[] = [];
  let floor = -Infinity;
  for (let i = 0; i < count; i++) {
    const v = value(i);
    if (best.length === k && v <= floor) continue;
    if (!keep(i)) continue;
    // Insertion into a short sorted list: k is a screenful, not thousands.
    let p = best.length;
    while (p > 0 && value(best[p - 1]!) < v) p--;
    best.splice(p, 0, i);
    if (best.length > k) best.pop();
    if (best.length === k) floor = value(best[k - 1]!);
  }
  return best;
}
