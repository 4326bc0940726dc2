/**
 * A resumable tokenizer for the one JSON shape V8 heap snapshots have: a top-level object
 * whose values are a small header object, very long flat number arrays and a long array
 * of strings. Chunks are fed as they are read; nothing holds the whole file. Values that
 * the handler does not want (trace_tree, unknown keys) are skipped with structure checks.
 */
import { ByteCollector } from './byte-collector.js';
import { decodeJsonStringBody, JsonStringError } from './json-string.js';
import { NumberSinkError, type NumberSink } from './snapshot-columns.js';

export interface TokenizerHandler {
  /** The value of a top-level key the handler wants whole (small), parsed with JSON.parse. */
  wantsWhole(key: string): boolean;
  whole(key: string, value: unknown): void;
  /** A sink for a flat number array, or null to skip the value. */
  numberSink(key: string): NumberSink | null;
  /** True if the key holds the array of strings to be delivered one by one. */
  wantsStrings(key: string): boolean;
  /**
   * Raw (still JSON-escaped) bytes of the current string item; may come in pieces. `at`:
   * the file offset of src[start].
   */
  stringPart(src: Buffer, start: number, end: number, at: number): void;
  stringEnd(): void;
  /** Called when a top-level value has been fully read. */
  endValue(key: string): void;
  /**
   * True to stop at this top-level key, before its value: the tokenizer is then done and
   * ignores the rest of what it is fed. Lets one thread parse one section of a file.
   */
  stopAt?(key: string): boolean;
}

/** A handler for numberRange()/stringRange() pieces: any other value is a syntax error the tokenizer reports. */
export const NUMBERS_ONLY: TokenizerHandler = {
  wantsWhole: () => false,
  whole: () => undefined,
  numberSink: () => null,
  wantsStrings: () => false,
  stringPart: () => undefined,
  stringEnd: () => undefined,
  endValue: () => undefined,
};

export class JsonSyntaxError extends Error {
  constructor(
    message: string,
    readonly offset: number,
  ) {
    super(message);
  }
}

const M_OPEN = 0;
const M_KEY_OR_END = 1;
const M_KEY = 2;
const M_COLON = 3;
const M_VALUE = 4;
const M_AFTER_VALUE = 5;
const M_DONE = 6;
const M_GENERIC = 7;
const M_NUMBERS = 8;
const M_STRINGS = 9;
const M_STRING_ITEM = 10;

// Separator states inside arrays: at start, after an item, after a comma.
const S_START = 0;
const S_ITEM = 1;
const S_COMMA = 2;

const isWs = (c: number): boolean => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

export class SnapshotTokenizer {
  private mode = M_OPEN;
  private offset = 0; // bytes consumed before the current chunk
  private key = '';
  private firstKey = true;
  // String scanning state (keys and string items), kept across chunks.
  private readonly pending = new ByteCollector();
  private escaped = false;
  private hasEscape = false;
  // Number array state.
  private sink: NumberSink | null = null;
  private num = 0;
  private inNum = false;
  private negative = false;
  private sep = S_START;
  private readonly batch = new Float64Array(1 << 12);
  /** Batch length used for the current array: whole records when the sink has them. */
  private cap = 0;
  private batchLen = 0;
  // Generic value state (skip or collect whole).
  private depth = 0;
  private genInString = false;
  private genEscaped = false;
  private collector: ByteCollector | null = null;
  private scalar = false;

  /** True once the handler's stopAt() stopped the tokenizer. */
  stopped = false;

  /** `offset`: file position of the first byte fed, for error messages. */
  constructor(
    private readonly handler: TokenizerHandler,
    offset = 0,
  ) {
    this.offset = offset;
  }

  /** Where the tokenizer is, for error messages: "while reading \"nodes\"". */
  where(): string {
    return this.mode === M_OPEN || this.mode === M_KEY_OR_END || this.mode === M_KEY
      ? 'at top level'
      : `in "${this.key}"`;
  }

  bytesConsumed(): number {
    return this.offset;
  }

  private fail(msg: string, i: number): never {
    throw new JsonSyntaxError(`${msg} ${this.where()}`, this.offset + i);
  }

  feed(buf: Buffer): void {
    if (this.stopped) return;
    const end = buf.length;
    let i = 0;
    try {
      while (i < end) {
        switch (this.mode) {
          case M_NUMBERS:
            i = this.numbers(buf, i, end);
            break;
          case M_STRINGS:
            i = this.stringsBetween(buf, i, end);
            break;
          case M_STRING_ITEM:
            i = this.stringItem(buf, i, end);
            break;
          case M_KEY:
            i = this.keyBody(buf, i, end);
            break;
          case M_GENERIC:
            i = this.generic(buf, i, end);
            break;
          default:
            i = this.structural(buf, i);
        }
      }
    } catch (e) {
      if (e instanceof NumberSinkError || e instanceof JsonStringError)
        throw new JsonSyntaxError(`${e.message} ${this.where()}`, this.offset + i);
      throw e;
    }
    this.offset += end;
  }

  /**
   * Tokenizes one piece of a flat number array on its own (a parse split over threads,
   * parallel-parse.ts): `buf` starts just after the array's "[" or just after a comma
   * between numbers, and ends just after a comma or with the array's "]" (`last`). The
   * tokenizer's `offset` is the file position of buf[0], so errors name absolute bytes.
   */
  numberRange(buf: Buffer, key: string, sink: NumberSink, afterComma: boolean, last: boolean): void {
    this.key = key;
    this.firstKey = false;
    this.startNumbers(sink);
    if (afterComma) this.sep = S_COMMA;
    this.feed(buf);
    if (this.mode === M_NUMBERS) {
      if (last || this.sep !== S_COMMA || this.inNum)
        throw new JsonSyntaxError(`unexpected end of the array ${this.where()}`, this.offset);
      if (this.batchLen > 0) sink.pushBatch(this.batch, this.batchLen);
      this.batchLen = 0;
    } else if (!last || this.mode !== M_AFTER_VALUE) {
      throw new JsonSyntaxError(`unexpected data after the array ${this.where()}`, this.offset);
    }
  }

  /**
   * Tokenizes one piece of the `strings` array on its own: `buf` starts at a string item
   * after a comma and ends after a comma between items or, for the `last` piece, with the
   * rest of the file (the array's "]" and the closing "}"). Strings go to the handler.
   */
  stringRange(buf: Buffer, last: boolean): void {
    this.key = 'strings';
    this.firstKey = false;
    this.mode = M_STRINGS;
    this.sep = S_COMMA;
    this.feed(buf);
    if (last) this.finish();
    else if (!this.betweenStrings())
      throw new JsonSyntaxError(`unexpected end of a piece of the strings ${this.where()}`, this.offset);
  }

  /** True when the tokenizer stands between two items of the strings array, after a comma. */
  betweenStrings(): boolean {
    return this.mode === M_STRINGS && this.sep === S_COMMA;
  }

  /** Throws unless the whole top-level object was read. */
  finish(): void {
    if (this.mode !== M_DONE) {
      throw new JsonSyntaxError(`unexpected end of file ${this.where()}`, this.offset);
    }
  }

  private structural(buf: Buffer, i: number): number {
    const c = buf[i]!;
    if (isWs(c)) return i + 1;
    switch (this.mode) {
      case M_OPEN:
        if (c !== 0x7b) this.fail('expected "{" (a JSON object)', i);
        this.mode = M_KEY_OR_END;
        return i + 1;
      case M_KEY_OR_END:
        if (c === 0x7d && this.firstKey) {
          this.mode = M_DONE;
          return i + 1;
        }
        if (c !== 0x22) this.fail('expected a key', i);
        this.firstKey = false;
        this.mode = M_KEY;
        return i + 1;
      case M_COLON:
        if (c !== 0x3a) this.fail('expected ":"', i);
        this.mode = M_VALUE;
        return i + 1;
      case M_VALUE:
        return this.startValue(buf, c, i);
      case M_AFTER_VALUE:
        if (c === 0x2c) {
          this.mode = M_KEY_OR_END;
          return i + 1;
        }
        if (c !== 0x7d) this.fail('expected "," or "}"', i);
        this.mode = M_DONE;
        return i + 1;
      default: // M_DONE
        return this.fail('unexpected data after the end of the snapshot', i);
    }
  }

  private startValue(_buf: Buffer, c: number, i: number): number {
    const h = this.handler;
    if (c === 0x5b) {
      if (h.wantsStrings(this.key)) {
        this.mode = M_STRINGS;
        this.sep = S_START;
        return i + 1;
      }
      const sink = h.numberSink(this.key);
      if (sink) {
        this.startNumbers(sink);
        return i + 1;
      }
    }
    this.collector = h.wantsWhole(this.key) ? new ByteCollector(4096) : null;
    this.depth = 0;
    this.genInString = false;
    this.genEscaped = false;
    this.scalar = c !== 0x7b && c !== 0x5b && c !== 0x22;
    this.mode = M_GENERIC;
    return i;
  }

  private startNumbers(sink: NumberSink): void {
    this.sink = sink;
    const rs = sink.recordSize ?? 1;
    this.cap = rs > 1 && rs <= this.batch.length ? this.batch.length - (this.batch.length % rs) : this.batch.length;
    this.mode = M_NUMBERS;
    this.sep = S_START;
    this.inNum = false;
    this.batchLen = 0;
  }

  private endValue(): void {
    this.mode = M_AFTER_VALUE;
    this.handler.endValue(this.key);
  }

  // Skips (or collects) any JSON value, tracking nesting and strings.
  private generic(buf: Buffer, i: number, end: number): number {
    const start = i;
    let depth = this.depth;
    let inStr = this.genInString;
    let esc = this.genEscaped;
    let done = false;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (inStr) {
        if (esc) esc = false;
        else if (c === 0x5c) esc = true;
        else if (c === 0x22) {
          inStr = false;
          if (depth === 0) {
            i++;
            done = true;
            break;
          }
        }
        continue;
      }
      if (this.scalar) {
        // A bare number/true/false/null ends at the next separator, which is not ours.
        if (c === 0x2c || c === 0x7d || isWs(c)) {
          done = true;
          break;
        }
        continue;
      }
      if (c === 0x22) inStr = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        if (--depth < 0) this.fail('unbalanced brackets', i);
        if (depth === 0) {
          i++;
          done = true;
          break;
        }
      }
    }
    this.collector?.append(buf, start, i);
    this.depth = depth;
    this.genInString = inStr;
    this.genEscaped = esc;
    if (done) {
      if (this.collector) {
        const col = this.collector;
        this.collector = null;
        let value: unknown;
        try {
          value = JSON.parse(col.bytes().toString('utf8', 0, col.length));
        } catch (e) {
          this.fail(`invalid JSON (${(e as Error).message})`, i);
        }
        this.handler.whole(this.key, value);
      }
      this.endValue();
    }
    return i;
  }

  // The hot loop: one number at a time (V8 writes "12,0,345\n,7"), digits straight into
  // a batch that the sink scatters column by column. The batch is 32 KB so that the
  // scatter's strided passes read it from L1 (a 512 KB batch halved the throughput).
  // Numbers that end before the chunk's last non-digit take the fast path: no end-of-chunk
  // test per digit (that non-digit stops every digit run) and the usual separators ("," and
  // "\n,") read in line; anything else falls through to the checks below, one byte at a time.
  private numbers(buf: Buffer, i: number, end: number): number {
    const batch = this.batch;
    const cap = this.cap;
    let len = this.batchLen;
    let sep = this.sep;
    let lim = end;
    while (lim > i && (buf[lim - 1]! - 0x30) >>> 0 < 10) lim--;
    if (this.inNum) {
      // A number cut by the chunk boundary: finish it first.
      let num = this.num;
      let d = 0;
      while (i < end && (d = buf[i]! - 0x30) >>> 0 < 10) {
        num = num * 10 + d;
        i++;
      }
      if (i === end) {
        this.num = num;
        return i;
      }
      batch[len++] = this.negative ? -num : num;
      this.negative = false;
      this.inNum = false;
      sep = S_ITEM;
    }
    while (i < end) {
      const c = buf[i]!;
      let d = c - 0x30;
      if (d >>> 0 < 10) {
        if (sep === S_ITEM) this.fail('expected "," between numbers', i);
        if (i < lim) {
          let neg = this.negative;
          this.negative = false;
          for (;;) {
            let num = d;
            i++;
            while ((d = buf[i]! - 0x30) >>> 0 < 10) {
              num = num * 10 + d;
              i++;
            }
            if (len === cap) {
              this.sink!.pushBatch(batch, len);
              len = 0;
            }
            batch[len++] = neg ? -num : num;
            neg = false;
            const s = buf[i];
            if (s === 0x2c) i++;
            else if (s === 0x0a && i + 1 < lim && buf[i + 1] === 0x2c) i += 2;
            else {
              sep = S_ITEM;
              break;
            }
            sep = S_COMMA;
            if (i >= lim || (d = buf[i]! - 0x30) >>> 0 >= 10) break;
          }
          continue;
        }
        let num = d;
        i++;
        while (i < end && (d = buf[i]! - 0x30) >>> 0 < 10) {
          num = num * 10 + d;
          i++;
        }
        if (i === end) {
          this.num = num;
          this.inNum = true;
          break;
        }
        if (len === cap) {
          this.sink!.pushBatch(batch, len);
          len = 0;
        }
        if (this.negative) {
          num = -num;
          this.negative = false;
        }
        batch[len++] = num;
        sep = S_ITEM;
        continue;
      }
      i++;
      if (c === 0x2c) {
        if (sep !== S_ITEM) this.fail('unexpected ","', i - 1);
        sep = S_COMMA;
      } else if (c === 0x0a || c === 0x20 || c === 0x0d || c === 0x09) {
        // whitespace between numbers
      } else if (c === 0x5d) {
        if (sep === S_COMMA || this.negative) this.fail('expected a number after ","', i - 1);
        if (len > 0) this.sink!.pushBatch(batch, len);
        this.batchLen = 0;
        this.sink = null;
        this.endValue();
        return i;
      } else if (c === 0x2d && sep !== S_ITEM && !this.negative) {
        this.negative = true;
      } else {
        this.fail(`expected an integer, found ${JSON.stringify(String.fromCharCode(c))}`, i - 1);
      }
    }
    if (len === cap) {
      this.sink!.pushBatch(batch, len);
      len = 0;
    }
    this.batchLen = len;
    this.sep = sep;
    return i;
  }

  private stringsBetween(buf: Buffer, i: number, end: number): number {
    for (; i < end; i++) {
      const c = buf[i]!;
      if (isWs(c)) continue;
      if (c === 0x22) {
        if (this.sep === S_ITEM) this.fail('expected "," between strings', i);
        this.mode = M_STRING_ITEM;
        return i + 1;
      }
      if (c === 0x2c) {
        if (this.sep !== S_ITEM) this.fail('unexpected ","', i);
        this.sep = S_COMMA;
      } else if (c === 0x5d) {
        if (this.sep === S_COMMA) this.fail('expected a string after ","', i);
        this.endValue();
        return i + 1;
      } else {
        this.fail('expected a string', i);
      }
    }
    return i;
  }

  // Hands a string item's raw bytes to the handler up to its closing quote.
  private stringItem(buf: Buffer, i: number, end: number): number {
    let esc = this.escaped;
    let j = i;
    for (; j < end; j++) {
      const c = buf[j]!;
      // JSON has no raw control characters in strings; the string table relies on it.
      if (c < 0x20) this.fail('a raw control character inside a string', j);
      if (esc) esc = false;
      else if (c === 0x5c) esc = true;
      else if (c === 0x22) break;
    }
    this.handler.stringPart(buf, i, j, this.offset + i);
    this.escaped = esc;
    if (j === end) return j;
    this.handler.stringEnd();
    this.sep = S_ITEM;
    this.mode = M_STRINGS;
    return j + 1;
  }

  // Reads a key up to its closing quote, possibly across chunks.
  private keyBody(buf: Buffer, i: number, end: number): number {
    let esc = this.escaped;
    let hasEsc = this.hasEscape;
    let j = i;
    for (; j < end; j++) {
      const c = buf[j]!;
      if (esc) esc = false;
      else if (c === 0x5c) esc = hasEsc = true;
      else if (c === 0x22) break;
    }
    if (j === end) {
      this.pending.append(buf, i, j);
      this.escaped = esc;
      this.hasEscape = hasEsc;
      return j;
    }
    let src = buf;
    let a = i;
    let b = j;
    if (this.pending.length > 0) {
      this.pending.append(buf, i, j);
      src = this.pending.bytes();
      a = 0;
      b = this.pending.length;
    }
    const s = hasEsc ? decodeJsonStringBody(src, a, b) : src.toString('utf8', a, b);
    this.pending.reset();
    this.escaped = false;
    this.hasEscape = false;
    this.key = s;
    if (this.handler.stopAt?.(s)) {
      this.stopped = true;
      this.mode = M_DONE;
      return end;
    }
    this.mode = M_COLON;
    return j + 1;
  }
}
