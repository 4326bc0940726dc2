/** A set of node ids as a sorted typed array: 4 bytes per id, O(log n) lookups. */
export class IdSet {
  private readonly sorted: Uint32Array;

  constructor(ids: Uint32Array) {
    this.sorted = Uint32Array.from(ids).sort();
  }

  get size(): number {
    return this.sorted.length;
  }

  has(id: number): boolean {
    const a = this.sorted;
    let lo = 0;
    let hi = a.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = a[mid]!;
      if (v === id) return true;
      if (v < id) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}
