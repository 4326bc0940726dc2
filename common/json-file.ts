/** JSON files the run directory holds, written so that readers never see half a file. */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Writes `value` as indented JSON to a temp file beside `file`, flushes it to disk, then
 * renames it into place (the temp file goes if that fails): a reader, or a machine that
 * loses power, sees the old file or the new one, never half of one.
 */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${JSON.stringify(value, null, 2)}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
