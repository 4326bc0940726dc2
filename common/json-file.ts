/** JSON files the run directory holds, written so that readers never see half a file. */
import { renameSync, rmSync, writeFileSync } from 'node:fs';

/** Writes `value` as indented JSON to a temp file beside `file`, then renames it into place (the temp file goes if that fails). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp-${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`);
  try {
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
