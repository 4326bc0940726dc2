/**
 * Numbers for people, one way everywhere (CLI, gate, verdicts, heap tables, reports):
 * bytes in IEC units (1 KiB = 1024 B), quantities with three significant digits, counts with
 * thousands separators, percents with at most one decimal, p-values as papers write them.
 */
import type { SeriesUnit } from './analysis-format.js';

const IEC_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/**
 * Three significant digits below 100, whole numbers (with separators) from there.
 * @example formatNumber(0.98765) // "0.988"; formatNumber(12.34) // "12.3"; formatNumber(12345.6) // "12,346"
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100) return Math.round(x).toLocaleString('en-US');
  if (a === 0) return '0';
  return Number(x.toPrecision(3)).toString();
}

/**
 * A byte count in IEC units.
 * @example formatBytes(412) // "412 B"; formatBytes(1536) // "1.5 KiB"; formatBytes(2048, true) // "+2 KiB"
 */
export function formatBytes(n: number, signed = false): string {
  if (!Number.isFinite(n)) return String(n);
  const sign = n < 0 ? '-' : signed && n > 0 ? '+' : '';
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < IEC_UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  // Below 1024 in its unit, so never a thousands separator; three significant digits below 100.
  return `${sign}${v >= 100 || u === 0 ? Math.round(v) : formatNumber(v)} ${IEC_UNITS[u]}`;
}

/**
 * A quantity in its series' unit: bytes in IEC units, anything else as a number and a noun.
 * @example formatQuantity(412.3, 'bytes') // "412 B"; formatQuantity(0.98, 'count', 'entries') // "0.98 entries"
 */
export function formatQuantity(v: number, unit: SeriesUnit, noun = ''): string {
  if (unit === 'bytes') return formatBytes(v);
  return `${formatNumber(v)}${noun ? ` ${noun}` : ''}`;
}

/**
 * A count of things: whole, with thousands separators.
 * @example formatCount(1234567) // "1,234,567"; formatCount(5, true) // "+5"
 */
export const formatCount = (n: number, signed = false): string =>
  `${signed && n > 0 ? '+' : ''}${Math.round(n).toLocaleString('en-US')}`;

/**
 * A fraction as a percent, at most one decimal.
 * @example formatPercent(0.95) // "95%"; formatPercent(0.0351) // "3.5%"
 */
export const formatPercent = (f: number): string => (Number.isFinite(f) ? `${Math.round(f * 1000) / 10}%` : String(f));

/**
 * A p-value as papers write it: below 0.001 as a bound, below 0.01 with three decimals, else two.
 * @example formatP(0.00002) // "p<0.001"; formatP(0.0042) // "p=0.004"; formatP(0.84) // "p=0.84"
 */
export const formatP = (p: number): string => (p < 0.001 ? 'p<0.001' : `p=${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`);
