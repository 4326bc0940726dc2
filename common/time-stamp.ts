/**
 * A compact UTC time for run and report folder names.
 * @example stamp(new Date('2026-11-28T16:06:15.123Z')) // "20261128T160615"
 */
export const stamp = (d: Date = new Date()): string =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, '');
