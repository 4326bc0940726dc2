/**
 * Decodes the body of a JSON string (the bytes between the quotes) into a JS string.
 * Works on bytes so that every result is a fresh string: slicing a decoded chunk would
 * make V8 keep the whole chunk alive behind each short string.
 */
export class JsonStringError extends Error {}

const ESCAPES: Record<number, string> = {
  34: '"',
  92: '\\',
  47: '/',
  98: '\b',
  102: '\f',
  110: '\n',
  114: '\r',
  116: '\t',
};

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/**
 * Decodes bytes [start, end) of `buf` that may contain backslash escapes. \uXXXX escapes
 * become UTF-16 code units, so surrogate pairs written as two escapes join up by
 * themselves and lone surrogates survive as V8 wrote them.
 */
export function decodeJsonStringBody(buf: Buffer, start: number, end: number): string {
  const parts: string[] = [];
  let seg = start;
  let i = start;
  while (i < end) {
    if (buf[i] !== 0x5c) {
      i++;
      continue;
    }
    if (i > seg) parts.push(buf.toString('utf8', seg, i));
    const c = buf[i + 1];
    if (c === undefined || i + 1 >= end) throw new JsonStringError('a string ends inside an escape');
    if (c === 0x75) {
      if (i + 6 > end) throw new JsonStringError('a \\u escape needs four hex digits');
      let code = 0;
      for (let k = 2; k < 6; k++) {
        const h = hexValue(buf[i + k]!);
        if (h < 0) throw new JsonStringError('a \\u escape needs four hex digits');
        code = code * 16 + h;
      }
      parts.push(String.fromCharCode(code));
      i += 6;
    } else {
      const s = ESCAPES[c];
      if (s === undefined) throw new JsonStringError(`invalid escape \\${String.fromCharCode(c)}`);
      parts.push(s);
      i += 2;
    }
    seg = i;
  }
  if (end > seg) parts.push(buf.toString('utf8', seg, end));
  return parts.length === 1 ? parts[0]! : parts.join('');
}
