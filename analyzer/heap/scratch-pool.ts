/**
 * Reuse of large Uint32Array scratch space between analysis phases. Dead typed arrays are
 * only freed when V8 next collects, so without reuse the dominator phase's ten arrays of
 * n words are still resident while the next phases allocate theirs; on a multi-GB
 * snapshot that is the difference between the peak and the live size.
 */
export class Uint32Pool {
  private readonly free: Uint32Array[] = [];

  /** An array of exactly `length` words; contents are NOT zeroed. */
  take(length: number): Uint32Array {
    let best = -1;
    for (let k = 0; k < this.free.length; k++) {
      const a = this.free[k]!;
      if (a.length >= length && (best < 0 || a.length < this.free[best]!.length)) best = k;
    }
    if (best < 0) return new Uint32Array(length);
    const [a] = this.free.splice(best, 1);
    return a!.length === length ? a! : a!.subarray(0, length);
  }

  /** Hands arrays back; the caller must not use them afterwards. */
  give(...arrays: Uint32Array[]): void {
    // Whole underlying buffers, so a later take() can use their full length.
    for (const a of arrays)
      this.free.push(
        a.byteOffset === 0 && a.byteLength === a.buffer.byteLength ? a : new Uint32Array(a.buffer as ArrayBuffer),
      );
  }
}
