/** Numbers in verdict sentences: quantities with units, rates, p-values. */
import type { SeriesUnit } from '../common/analysis-format.js';

/**
 * A quantity in its unit, with binary prefixes for bytes; small rates keep 2–3
 * significant digits ("0.98 entries", "412 B", "1.2 MB").
 * @example formatQuantity(412.3, 'bytes') // "412 B"
 */
export function formatQuantity(v: number, unit: SeriesUnit, noun = ''): string {
  if (!Number.isFinite(v)) return String(v);
  if (unit === 'bytes') {
    const units = ['B', 'KB', 'MB', 'GB', 'TB'];
    let x = Math.abs(v);
    let u = 0;
    while (x >= 1024 && u < units.length - 1) {
      x /= 1024;
      u++;
    }
    return `${v < 0 ? '-' : ''}${trim(x)} ${units[u]}`;
  }
  return `${v < 0 ? '-' : ''}${trim(Math.abs(v))}${noun ? ` ${noun}` : ''}`;
}

function trim(x: number): string {
  if (x === 0) return '0';
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1).replace(/\.0$/, '');
  return Number(x.toPrecision(3)).toString();
}

/**
 * p-value as people write it.
 * @example formatP(0.00002) // "p<0.001"
 */
export const formatP = (p: number): string => (p < 0.001 ? 'p<0.001' : `p=${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`);

/** "95%" */
export const formatPct = (f: number): string => `${Math.round(f * 1000) / 10}%`;
