/**
 * Where HandleReloadConfigRequest may point the server. TF Serving has no authentication
 * on its ModelService, and a reload names folders on the server's disk; so a base path
 * must exist, be a readable folder, and lie under a folder allowed at start-up: the
 * `--allowed_model_roots` list, or else the folders holding the start-up base paths (as
 * `/models` holds `/models/ctr` in TF Serving's docker image). Paths are compared after
 * resolving `..` and symbolic links, so `/proc/self` or `../../etc` cannot slip through.
 * Failures carry TF Serving's error codes: NOT_FOUND for a missing base path,
 * PERMISSION_DENIED outside the roots or unreadable, INVALID_ARGUMENT for a non-folder.
 */
import { accessSync, constants, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { LsError } from '../common/errors.js';
import type { ModelSource } from './model-config.js';

/** The allowed roots, resolved: the given list, or the parents of the start-up base paths. */
export function allowedModelRoots(explicit: readonly string[] | undefined, startup: readonly ModelSource[]): string[] {
  const roots = explicit ?? startup.map((s) => dirname(resolve(s.basePath)));
  return [
    ...new Set(
      roots.map((r) => {
        try {
          return realpathSync(r);
        } catch {
          return resolve(r);
        }
      }),
    ),
  ];
}

const inside = (path: string, root: string): boolean => {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
};

/**
 * Checks every base path of a reload before any is applied (one bad path changes nothing).
 * @example checkModelPaths([{ name: 'x', basePath: '/etc', ... }], ['/models']) // throws PERMISSION_DENIED
 */
export function checkModelPaths(sources: readonly ModelSource[], roots: readonly string[]): void {
  for (const s of sources) {
    const where = `model '${s.name}': base path ${s.basePath}`;
    let real: string;
    try {
      real = realpathSync(s.basePath);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR')
        throw new LsError('LS_ERR_MODEL_NOT_FOUND', `Could not find base path ${s.basePath} for servable ${s.name}`);
      throw new LsError('LS_ERR_PATH_NOT_ALLOWED', `${where} cannot be resolved (${code ?? (e as Error).message})`);
    }
    if (!roots.some((r) => inside(real, r)))
      throw new LsError(
        'LS_ERR_PATH_NOT_ALLOWED',
        `${where}${real !== s.basePath ? ` (${real})` : ''} is outside the allowed model roots (${roots.join(', ')}); set them with --allowed_model_roots`,
      );
    if (!statSync(real).isDirectory())
      throw new LsError('LS_ERR_INVALID_REQUEST', `${where} is not a folder (it should hold numeric version folders)`);
    try {
      accessSync(real, constants.R_OK | constants.X_OK);
    } catch {
      throw new LsError('LS_ERR_PATH_NOT_ALLOWED', `${where} is not readable by the server`);
    }
  }
}
