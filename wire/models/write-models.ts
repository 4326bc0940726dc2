/**
 * Writes CTR models into a TF Serving-style base path (`<base>/<version>/model.onnx`),
 * never exposing a half-written file to a server that polls the folder.
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { buildCtrModel } from './ctr-model.js';

export const MODEL_FILE = 'model.onnx';
/** Name of the server's built-in model. */
export const BUILTIN_MODEL_NAME = 'ctr';

export interface WriteModelVersionsOptions {
  features?: number;
  hidden?: number;
  versions: readonly number[];
  seed?: number;
}

export interface WrittenModel {
  readonly version: number;
  readonly path: string;
  readonly bytes: number;
}

/**
 * Builds one CTR model per version and writes each to `dir/<version>/model.onnx`.
 *
 * @example
 * await writeModelVersions('/tmp/models/ctr', { features: 10, versions: [1, 2] });
 */
export async function writeModelVersions(dir: string, opts: WriteModelVersionsOptions): Promise<WrittenModel[]> {
  // Build all first, so a bad option fails before anything touches the disk.
  const models = opts.versions.map((version) =>
    buildCtrModel({ features: opts.features, hidden: opts.hidden, seed: opts.seed, version }),
  );
  await mkdir(dir, { recursive: true });
  const written: WrittenModel[] = [];
  for (const m of models) {
    const path = await writeVersionAtomically(dir, m.version, m.bytes);
    written.push({ version: m.version, path, bytes: m.bytes.length });
  }
  return written;
}

/**
 * Puts `bytes` at `base/<version>/model.onnx` so a poller sees either nothing or the
 * whole file. A new version folder is staged under a non-numeric name (which version
 * discovery ignores) and renamed into place, so the version never appears without its
 * file; into an existing folder the file goes via a temporary file and a rename.
 */
async function writeVersionAtomically(base: string, version: number, bytes: Uint8Array): Promise<string> {
  const versionDir = join(base, String(version));
  const target = join(versionDir, MODEL_FILE);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  if (!(await exists(versionDir))) {
    const staging = join(base, `.staging-${version}-${tag}`);
    try {
      await mkdir(staging);
      await writeFile(join(staging, MODEL_FILE), bytes);
      await rename(staging, versionDir);
      return target;
    } catch (e) {
      await rm(staging, { recursive: true, force: true });
      // Someone else created the folder meanwhile (another writer, or a first start racing
      // this one): fall through and replace the file inside it instead.
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
    }
  }
  const tmp = join(versionDir, `.${MODEL_FILE}.${tag}.tmp`);
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, target);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return target;
}

/**
 * The leakscope cache folder: `LEAKSCOPE_CACHE_DIR`, else `$XDG_CACHE_HOME/leakscope`,
 * else `~/.cache/leakscope`.
 *
 * @example
 * defaultCacheDir() // '/home/me/.cache/leakscope'
 */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.LEAKSCOPE_CACHE_DIR) return env.LEAKSCOPE_CACHE_DIR;
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'leakscope');
}

/**
 * Makes sure the server's built-in model exists (`<cache>/models/ctr/1/model.onnx`, with
 * the default features and seed), building it only when absent, and returns its base
 * path for the model repository.
 *
 * @example
 * const basePath = await ensureBuiltinModel(); // '~/.cache/leakscope/models/ctr'
 */
export async function ensureBuiltinModel(cacheDir: string = defaultCacheDir()): Promise<string> {
  const base = join(cacheDir, 'models', BUILTIN_MODEL_NAME);
  if (!(await exists(join(base, '1', MODEL_FILE)))) await writeModelVersions(base, { versions: [1] });
  return base;
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}
