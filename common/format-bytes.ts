/**
 * Byte counts for people: 1024-based units, one decimal past bytes.
 * @example formatBytes(1536) // "1.5 KB"; formatBytes(2048, true) // "+2.0 KB"
 */
export function formatBytes(n: number, signed = false): string {
  const sign = n < 0 ? '-' : signed && n > 0 ? '+' : '';
  let v = Math.abs(n);
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${sign}${u === 0 ? v.toFixed(0) : v.toFixed(1)} ${units[u]}`;
}
