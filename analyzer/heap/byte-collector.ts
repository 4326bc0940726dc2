/**
 * A growable byte buffer for tokens that straddle read chunks (a string cut in two, the
 * header object). Bytes are copied out of the read buffer so the reader can reuse it.
 */
export class ByteCollector {
  private buf: Buffer;
  length = 0;

  constructor(initial = 256) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  append(src: Uint8Array, start: number, end: number): void {
    const need = this.length + (end - start);
    if (need > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(need, this.buf.length * 2));
      this.buf.copy(next, 0, 0, this.length);
      this.buf = next;
    }
    this.buf.set(src.subarray(start, end), this.length);
    this.length = need;
  }

  pushByte(b: number): void {
    if (this.length === this.buf.length) this.append(Uint8Array.of(b), 0, 1);
    else this.buf[this.length++] = b;
  }

  /** The collected bytes; valid until the next append or reset. */
  bytes(): Buffer {
    return this.buf;
  }

  reset(): void {
    this.length = 0;
    // Do not keep a huge buffer alive because of one long string.
    if (this.buf.length > 1 << 20) this.buf = Buffer.allocUnsafe(256);
  }
}
