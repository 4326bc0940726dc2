import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Runs `fn` with a fresh folder under os.tmpdir() and removes it afterwards, pass or fail.
 *
 * @example
 * await withTmpDir('leakscope-x-', async (dir) => { await writeFile(join(dir, 'a'), 'b'); });
 */
export async function withTmpDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
