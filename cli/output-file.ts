/** Writing a file an option named: a failure is bad input (exit 2) naming the option and the file. */
import { writeFile } from 'node:fs/promises';
import { LsError } from '../common/errors.js';

/**
 * Writes `text` to `file`, or throws LS_ERR_INVALID_OPTION naming `option`.
 * @example await writeOptionFile('--junit', 'fleet.xml', xml)
 */
export async function writeOptionFile(option: string, file: string, text: string): Promise<void> {
  try {
    await writeFile(file, text);
  } catch (e) {
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `${option} ${file}: cannot write (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
