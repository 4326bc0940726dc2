/**
 * The snapshot's `strings` array. Two ways to hold it:
 * - FileStringTable (a parse from a file): the strings stay in the file; the table keeps
 *   each string's offset (4 bytes a string) and reads a string from the file when asked.
 *   Almost no string is ever read (class names, property names on printed paths are), and
 *   copying them cost the parse a third of its time and the analysis a third of its peak
 *   memory on the benchmark's snapshots: on this kind of VM every fresh MB costs ~4 ms of
 *   page faults, more than parsing the bytes.
 * - MemoryStringTable (a parse from a stream, which cannot be read again): the raw JSON
 *   bytes of each string packed in large chunks. Millions of short JS strings would cost
 *   a header each and most of the parse time in allocation and GC. Each stored string is
 *   followed by a 0 byte (a raw control character cannot occur inside a JSON string), so
 *   its end is found from its own bytes, and a label can read just a prefix of a huge string.
 * Both decode a string only when asked for.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { LsError } from '../../common/errors.js';
import { decodeJsonStringBody } from './json-string.js';
import { lastAtMost } from './sorted.js';

/** What the graph reads: string i whole, or its first characters. */
export interface StringTable {
  readonly count: number;
  /** The decoded string number i. */
  get(i: number): string;
  /**
   * At most about `maxChars` characters from the start of string i (never fewer when the
   * string is longer), in O(maxChars): labels of multi-MB strings read only what they show.
   */
  prefix(i: number, maxChars: number): string;
}

/** What the parser hands each string to: its raw (still escaped) bytes, maybe in parts. */
export interface StringSink extends StringTable {
  /** Bytes src[a, b) of the current string; `at` is the file offset of src[a]. */
  append(src: Uint8Array, a: number, b: number, at: number): void;
  /** Ends the current string (which may be empty). */
  end(): void;
}

/**
 * End of a string body that starts at buf[a]: at its closing quote (a file) or 0
 * terminator (a chunk), or after `maxChars` characters, never past `limit`. Walks
 * characters, not bytes, so that a cut never splits an escape or a UTF-8 sequence.
 */
function bodyEnd(buf: Uint8Array, a: number, limit: number, maxChars: number): number {
  let end = a;
  let n = 0;
  for (; n < maxChars && end < limit; n++) {
    const c = buf[end]!;
    if (c === 0 || c === 0x22) break;
    if (c === 0x5c) {
      // The backslash and the byte it escapes (a quote, maybe), then a \u escape's digits.
      end += 2;
      if (buf[end - 1] === 0x75)
        for (const stop = end + 4; end < stop && end < limit && buf[end] !== 0 && buf[end] !== 0x22; ) end++;
    } else {
      end++;
      if (c >= 0xc0) while (end < limit && (buf[end]! & 0xc0) === 0x80) end++;
    }
  }
  walked = n;
  return Math.min(end, limit);
}
/** Characters the last bodyEnd() walked (what prefix() counts). */
let walked = 0;

function decode(buf: Buffer, a: number, end: number): string {
  const body = buf.subarray(a, end);
  return body.indexOf(0x5c) >= 0 ? decodeJsonStringBody(buf, a, end) : body.toString('utf8');
}

function checkIndex(i: number, count: number): void {
  if (!(i >= 0 && i < count)) throw new RangeError(`string index ${i} out of range (${count} strings)`);
}

/** get() and prefix() over one read(). */
abstract class StringReader implements StringTable {
  abstract readonly count: number;
  get(i: number): string {
    return this.read(i, Number.POSITIVE_INFINITY);
  }
  prefix(i: number, maxChars: number): string {
    return this.read(i, maxChars);
  }
  protected abstract read(i: number, maxChars: number): string;
}

/**
 * Strings that are plain decimal numbers (V8 names internal slots "259", "260", ...;
 * often a third of all strings) are kept as their value, tagged by the top bit, with no
 * bytes. Offsets never reach that bit.
 */
const NUMERIC = 0x80000000;
const MAX_NUMERIC_DIGITS = 9;

const BLOCK_BITS = 18;
const BLOCK = 1 << BLOCK_BITS;
const CACHE = 4096;
/** Closes the file of a table nobody holds any more. */
const closer = new FinalizationRegistry<number>((fd) => {
  try {
    closeSync(fd);
  } catch {
    // already closed
  }
});

/**
 * The strings of a snapshot file, left in the file: each string's offset, in blocks that
 * never move (no doubling copies). Plain decimal strings (V8's names of internal slots,
 * often a third of all strings, and read in loops over a table's edges) are kept as their
 * value instead, so reading one costs no I/O; the last strings read are cached, so that a
 * name read again and again ("table", "value") costs one read. The file is opened once, at
 * the parse, so that a table stays readable after its folder is removed; the descriptor
 * closes when the table is collected. Offsets count from the first string, in 31 bits (the
 * top bit tags a number) unless the strings could span more than 2 GB: then in 64-bit
 * floats, numbers as -(value + 1).
 */
export class FileStringTable extends StringReader implements StringSink {
  count = 0;
  private readonly fd: number;
  private readonly blocks: (Uint32Array | Float64Array)[] = [];
  private base = -1;
  private wide = false;
  private open = false;
  /** Value of the current string while it is a canonical decimal, else -1; its digits. */
  private num = -1;
  private digits = 0;
  private scratch = Buffer.allocUnsafe(512);
  private readonly cacheIndex = new Int32Array(CACHE).fill(-1);
  private readonly cacheText: string[] = new Array<string>(CACHE);
  /** Characters of each cached string as prefix() counts them. */
  private readonly cacheChars = new Float64Array(CACHE);

  /** `fileBytes`: the file's size, which bounds the offsets. */
  constructor(
    private readonly file: string,
    private readonly fileBytes: number,
  ) {
    super();
    this.fd = openSync(file, 'r');
    closer.register(this, this.fd);
  }

  append(src: Uint8Array, a: number, b: number, at: number): void {
    if (!this.open) {
      if (this.base < 0) {
        this.base = at;
        this.wide = this.fileBytes - at > 0x7fffffff;
      }
      const k = this.count >>> BLOCK_BITS;
      if (k === this.blocks.length) this.blocks.push(this.wide ? new Float64Array(BLOCK) : new Uint32Array(BLOCK));
      this.blocks[k]![this.count & (BLOCK - 1)] = at - this.base;
      this.open = true;
      this.num = 0;
      this.digits = 0;
    }
    // Canonical decimals only ("0", "17", not "017"), so that String(value) gives the text back.
    let num = this.num;
    let digits = this.digits;
    for (let k = a; k < b && num >= 0; k++) {
      const d = src[k]! - 0x30;
      num = d >= 0 && d <= 9 && digits < MAX_NUMERIC_DIGITS && !(digits === 1 && num === 0) ? num * 10 + d : -1;
      digits++;
    }
    this.num = num;
    this.digits = digits;
  }

  end(): void {
    if (this.num >= 0 && this.digits > 0)
      this.blocks[this.count >>> BLOCK_BITS]![this.count & (BLOCK - 1)] = this.wide
        ? -(this.num + 1)
        : (NUMERIC | this.num) >>> 0;
    this.count++;
    this.open = false;
  }

  protected read(i: number, maxChars: number): string {
    checkIndex(i, this.count);
    const v = this.blocks[i >>> BLOCK_BITS]![i & (BLOCK - 1)]!;
    if (this.wide ? v < 0 : v >= NUMERIC) return String(this.wide ? -v - 1 : v - NUMERIC);
    const slot = i & (CACHE - 1);
    if (this.cacheIndex[slot] === i && this.cacheChars[slot]! <= maxChars) return this.cacheText[slot]!;
    const a = v + this.base;
    // Read a window, larger until it holds the closing quote or the characters asked for
    // (a character is at most 6 bytes: \uXXXX).
    let want = Math.min(maxChars * 6 + 6, this.scratch.length);
    for (;;) {
      if (this.scratch.length < want) this.scratch = Buffer.allocUnsafe(want);
      const buf = this.scratch;
      let got = 0;
      while (got < want) {
        const n = readSync(this.fd, buf, got, want - got, a + got);
        if (n === 0) break;
        got += n;
      }
      const end = bodyEnd(buf, 0, got, maxChars);
      if (end < got) {
        const text = decode(buf, 0, end);
        if (buf[end] === 0x22) {
          // The whole string: later reads of it, whole or by prefix, need no I/O.
          this.cacheIndex[slot] = i;
          this.cacheText[slot] = text;
          this.cacheChars[slot] = walked;
        }
        return text;
      }
      if (got < want)
        throw new LsError(
          'LS_ERR_BAD_SNAPSHOT',
          `${this.file}: the file changed after it was parsed: string ${i} at byte ${a} could not be read`,
        );
      want *= 2;
    }
  }
}

const CHUNK = 8 << 20;

/** The strings of a stream, in memory (see above). */
export class MemoryStringTable extends StringReader implements StringSink {
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
  append(src: Uint8Array, a: number, b: number, _at = 0): void {
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
    return lastAtMost(this.chunkFirst, this.chunkFirst.length, i);
  }

  protected read(i: number, maxChars: number): string {
    checkIndex(i, this.count);
    const a = this.starts[i]!;
    if (a >= NUMERIC) return String(a - NUMERIC);
    const buf = this.chunks[this.chunkOf(i)]!;
    const end = maxChars === Number.POSITIVE_INFINITY ? buf.indexOf(0, a) : bodyEnd(buf, a, buf.length, maxChars);
    return decode(buf, a, end);
  }
}
