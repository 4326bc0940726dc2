/**
 * The parts of Prometheus' syntax a fleet query is made of, checked before anything is
 * sent: durations (`2h`, `1h30m`, `15s`), times (RFC 3339, Unix seconds or `now`) and
 * selectors (label matchers in braces, `{job="serving",env!="dev"}`). Messages name the
 * option and show what was given.
 */
import { LsError } from '../common/errors.js';

const UNIT_MS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
  y: 31_536_000_000,
};

/**
 * A Prometheus duration in ms (units in descending order, each at most once).
 * @example parseDuration('1h30m', '--range') // 5_400_000
 */
export function parseDuration(text: string, option: string): number {
  const m = /^((\d+)y)?((\d+)w)?((\d+)d)?((\d+)h)?((\d+)m)?((\d+)s)?((\d+)ms)?$/.exec(text.trim());
  const bad = () =>
    new LsError(
      'LS_ERR_INVALID_OPTION',
      `${option}: '${text}' is not a duration (use Prometheus' form: a number and a unit ms, s, m, h, d, w or y, e.g. 2h, 1h30m, 15s)`,
    );
  if (!m || text.trim() === '') throw bad();
  let ms = 0;
  const units = ['y', 'w', 'd', 'h', 'm', 's', 'ms'];
  for (let i = 0; i < units.length; i++) {
    const v = m[2 + 2 * i];
    if (v !== undefined) ms += Number(v) * UNIT_MS[units[i]!]!;
  }
  if (!(ms > 0)) throw bad();
  return ms;
}

/**
 * A time in ms since the epoch: `now`, Unix seconds (fractions allowed) or RFC 3339.
 * @example parseTime('2026-11-30T08:00:00Z', '--end') // 1796025600000
 */
export function parseTime(text: string, option: string, now = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return now;
  if (/^\d+(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(t)) {
    const ms = Date.parse(t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new LsError(
    'LS_ERR_INVALID_OPTION',
    `${option}: '${text}' is not a time (use now, Unix seconds, or RFC 3339 such as 2026-11-30T08:00:00Z)`,
  );
}

// One matcher: a label name, an operator and a double- or single-quoted string.
const MATCHER = /\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')\s*/y;

/**
 * The label matchers inside a selector's braces, checked one by one; a metric name before
 * the braces is refused because fleet mode adds the metric names itself.
 * @example selectorMatchers('{job="serving", env!="dev"}', '--selector') // ['job="serving"', 'env!="dev"']
 */
export function selectorMatchers(text: string, option: string): string[] {
  const t = text.trim();
  const bad = (why: string) =>
    new LsError(
      'LS_ERR_INVALID_OPTION',
      `${option}: '${text}' ${why} (expected label matchers in braces, e.g. {job="serving"})`,
    );
  if (!t.startsWith('{') || !t.endsWith('}')) throw bad('is not a selector in braces; leave out the metric name');
  const inner = t.slice(1, -1);
  const out: string[] = [];
  let pos = 0;
  while (pos < inner.length && inner.slice(pos).trim() !== '') {
    MATCHER.lastIndex = pos;
    const m = MATCHER.exec(inner);
    if (!m) throw bad(`has a malformed matcher at '${inner.slice(pos).trim()}'`);
    if (m[1] === '__name__') throw bad('names a metric; fleet mode picks the metrics itself');
    out.push(`${m[1]}${m[2]}${m[3]}`);
    pos = MATCHER.lastIndex;
    if (pos < inner.length) {
      if (inner[pos] !== ',') throw bad(`has '${inner.slice(pos).trim()}' where a comma belongs`);
      pos++;
    }
  }
  return out;
}

/**
 * A Prometheus duration in whole seconds, in the largest unit that divides it.
 * @example promDuration(3_600_000) // '1h'
 */
export function promDuration(ms: number): string {
  const s = Math.max(1, Math.round(ms / 1000));
  for (const [unit, size] of [
    ['d', 86_400],
    ['h', 3600],
    ['m', 60],
  ] as const)
    if (s % size === 0) return `${s / size}${unit}`;
  return `${s}s`;
}

const BYTE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A memory size: bytes, or a number with an SI (kB, MB, GB) or IEC (KiB, MiB, GiB) unit.
 * @example parseBytes('4GiB', '--limit') // 4294967296
 */
export function parseBytes(text: string, option: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/.exec(text.trim());
  const mult = m ? BYTE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || mult === undefined || !(Number(m[1]) > 0))
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `${option}: '${text}' is not a memory size (e.g. 4GiB, 512MiB, 2GB or a number of bytes)`,
    );
  return Math.round(Number(m[1]) * mult);
}
