import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder holding leakscope's package.json, found by walking up from this module, so
 * that files shipped beside the code (proto/) are found from both the TypeScript sources
 * and the compiled dist/ tree.
 * @example join(packageRoot(), 'proto')
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'proto'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error('leakscope: cannot find the package root (package.json beside proto/)');
    dir = up;
  }
}
