/**
 * The snapshot's `strings` array kept as the raw JSON bytes of each string, packed in
 * large chunks, and decoded only when asked for. Millions of short JS strings would cost
 * a header each and most of the parse time in allocation and GC; almost none of them are
 * ever read (class names, property names on printed paths are). Each stored string is
 * followed by a 0 byte (a raw control character cannot occur inside a JSON string), so its
 * end is found from its own bytes, and a label can read just a prefix of a huge string.
 */
import { decodeJsonStringBody } from './json-string.js';

const CHUNK = 8 << 20;
/**
 * Strings that are plain decimal numbers (V8 names internal slots "259", "260", ...;
 * often a third of all strings) are kept in `starts` itself, tagged by the top bit,
 * with no bytes. Chunk offsets never reach that bit.
 */
const NUMERIC = 0x80000000;
const MAX_NUMERIC_DIGITS = 9;

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
      // One byte more for the terminator that end() writes.
      if (this.chunks.length === 0 || this.pos + (b - a) + 1 > this.chunk.length) this.newChunk(b - a + 1, -1);
      this.open = this.pos;
    } else if (this.pos + (b - a) + 1 > this.chunk.length) {
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
    const a = this.open;
    const len = this.pos - a;
    const c = this.chunk;
    let value = -1;
    // Canonical decimals only ("0", "17", not "017"), so that String(value) gives the text back.
    if (len > 0 && len <= MAX_NUMERIC_DIGITS && (len === 1 || c[a] !== 0x30)) {
      value = 0;
      for (let p = a; p < this.pos; p++) {
        const d = c[p]! - 0x30;
        if (d < 0 || d > 9) {
          value = -1;
          break;
        }
        value = value * 10 + d;
      }
    }
    if (value >= 0) {
      this.pos = a;
      this.starts[this.count++] = (NUMERIC | value) >>> 0;
    } else {
      this.starts[this.count++] = a;
      c[this.pos++] = 0;
    }
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
    return this.read(i, Number.POSITIVE_INFINITY);
  }

  /**
   * At most about `maxChars` characters from the start of string i (never fewer when the
   * string is longer), in O(maxChars): labels of multi-MB strings read only what they show.
   */
  prefix(i: number, maxChars: number): string {
    return this.read(i, maxChars);
  }

  private read(i: number, maxChars: number): string {
    if (!(i >= 0 && i < this.count)) throw new RangeError(`string index ${i} out of range (${this.count} strings)`);
    const a = this.starts[i]!;
    if (a >= NUMERIC) return String(a - NUMERIC);
    const buf = this.chunks[this.chunkOf(i)]!;
    let end: number;
    if (maxChars === Number.POSITIVE_INFINITY) end = buf.indexOf(0, a);
    else {
      // Walk characters, not bytes, so that a cut never splits an escape or a UTF-8
      // sequence; never past the terminator, even in a string with a broken escape.
      end = a;
      for (let n = 0; n < maxChars && buf[end] !== 0; n++) {
        const c = buf[end]!;
        const stop =
          end + (c === 0x5c ? (buf[end + 1] === 0x75 ? 6 : 2) : c < 0xc0 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4);
        end++;
        while (end < stop && buf[end] !== 0) end++;
      }
    }
    const body = buf.subarray(a, end);
    return body.indexOf(0x5c) >= 0 ? decodeJsonStringBody(buf, a, end) : body.toString('utf8');
  }
}
