/**
 * The snapshot's `strings` array kept as the raw JSON bytes of each string, packed in
 * large chunks, and decoded only when asked for. Millions of short JS strings would cost
 * a header each and most of the parse time in allocation and GC; almost none of them are
 * ever read (class names, property names on printed paths are).
 */
import { decodeJsonStringBody } from './json-string.js';

const CHUNK = 8 << 20;

export class StringTable {
  private readonly chunks: Buffer[] = [];
  /** Index of the first string stored in each chunk. */
  private readonly chunkFirst: number[] = [];
  private readonly chunkUsed: number[] = [];
  private starts = new Uint32Array(1 << 16);
  private chunk: Buffer = Buffer.alloc(0);
  private pos = 0;
  private open = -1; // start of the string being appended, or -1
  count = 0;

  /** Bytes held for string contents. */
  byteLength(): number {
    let n = 0;
    for (let k = 0; k < this.chunks.length; k++) n += k === this.chunks.length - 1 ? this.pos : this.chunkUsed[k]!;
    return n;
  }

  private newChunk(minSize: number, carryFrom: number): void {
    const next = Buffer.allocUnsafe(Math.max(CHUNK, minSize));
    const carry = carryFrom >= 0 ? this.pos - carryFrom : 0;
    if (carry > 0) this.chunk.copy(next, 0, carryFrom, this.pos);
    if (this.chunks.length > 0) this.chunkUsed[this.chunks.length - 1] = carryFrom >= 0 ? carryFrom : this.pos;
    this.chunks.push(next);
    this.chunkFirst.push(this.count);
    this.chunkUsed.push(0);
    this.chunk = next;
    this.pos = carry;
    if (carryFrom >= 0) this.open = 0;
  }

  /** Appends raw (still escaped) body bytes of the current string. */
  append(src: Uint8Array, a: number, b: number): void {
    if (this.open < 0) {
      if (this.count === this.starts.length) {
        const next = new Uint32Array(this.starts.length * 2);
        next.set(this.starts);
        this.starts = next;
      }
      if (this.chunks.length === 0 || this.pos + (b - a) > this.chunk.length) this.newChunk(b - a, -1);
      this.open = this.pos;
    } else if (this.pos + (b - a) > this.chunk.length) {
      // The string outgrew the chunk: move what we have of it into a fresh one.
      this.newChunk(this.pos - this.open + (b - a) * 2, this.open);
    }
    const len = b - a;
    if (len < 48) {
      const c = this.chunk;
      let p = this.pos;
      for (let k = a; k < b; k++) c[p++] = src[k]!;
      this.pos = p;
    } else {
      this.chunk.set(src.subarray(a, b), this.pos);
      this.pos += len;
    }
  }

  /** Ends the current string (which may be empty). */
  end(): void {
    if (this.open < 0) this.append(Buffer.alloc(0), 0, 0);
    this.starts[this.count++] = this.open;
    this.open = -1;
  }

  private chunkOf(i: number): number {
    const f = this.chunkFirst;
    let lo = 0;
    let hi = f.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (f[mid]! <= i) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  /** The decoded string number i. */
  get(i: number): string {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`string index ${i} out of range (${this.count} strings)`);
    const k = this.chunkOf(i);
    const buf = this.chunks[k]!;
    const a = this.starts[i]!;
    const lastInChunk = k + 1 < this.chunks.length ? this.chunkFirst[k + 1]! - 1 : this.count - 1;
    const b = i < lastInChunk ? this.starts[i + 1]! : k === this.chunks.length - 1 ? this.pos : this.chunkUsed[k]!;
    for (let p = a; p < b; p++) if (buf[p] === 0x5c) return decodeJsonStringBody(buf, a, b);
    return buf.toString('utf8', a, b);
  }
}
