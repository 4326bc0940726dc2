/**
 * Where the diagnostics interface writes, and how much: heap snapshots are large (often
 * the size of the heap) and the folder is read by whoever fetched the capture, so:
 * - without a configured folder, a private one per server: mkdtemp under
 *   `$XDG_RUNTIME_DIR` (a per-user tmpfs) or `os.tmpdir()`, mode 0700;
 * - a configured folder (`--diagnostics-dir`) is created 0700 when missing, and refused,
 *   never followed, when it is a symbolic link, not a folder, or not owned by this user;
 *   before each write it must still be the same folder (device and inode);
 * - files are created exclusively (O_EXCL, which also refuses a planted link) with mode 0600;
 * - a per-process quota of captures (count and bytes) and a free-disk check (statfs)
 *   before each capture.
 */
import { lstatSync, mkdirSync, mkdtempSync, rmdirSync, statfsSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { LsError } from '../common/errors.js';
import { formatBytes } from '../common/format-numbers.js';

export interface CaptureLimits {
  /** Captures (heap snapshots and allocation profiles) one server may write (--diagnostics-max-captures). */
  readonly maxCaptures: number;
  /** Bytes those captures may add up to (--diagnostics-max-capture-bytes). */
  readonly maxCaptureBytes: number;
  /** Free bytes the folder's file system must keep after a capture of the estimated size (--diagnostics-min-free-bytes). */
  readonly minFreeBytes: number;
}

export const DEFAULT_CAPTURE_LIMITS: CaptureLimits = Object.freeze({
  maxCaptures: 50,
  maxCaptureBytes: 4 * 1024 ** 3,
  minFreeBytes: 1024 ** 3,
});

/** File mode of every capture: readable by this user only. */
export const CAPTURE_FILE_MODE = 0o600;

const refuse = (m: string) => new LsError('LS_ERR_INVALID_OPTION', `--diagnostics-dir: ${m}`);
const quota = (m: string) => new LsError('LS_ERR_CAPTURE_QUOTA', m);

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw refuse(`cannot inspect ${path}: ${(e as Error).message}`);
  }
}

/** Checks a configured folder: a real folder of ours, not a link. */
function checkOwnFolder(path: string, st: Stats): void {
  if (st.isSymbolicLink()) throw refuse(`${path} is a symbolic link; refusing to follow it (give the real folder)`);
  if (!st.isDirectory()) throw refuse(`${path} exists and is not a folder`);
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid)
    throw refuse(`${path} is owned by uid ${st.uid}, not by this user (uid ${uid}); refusing to write there`);
}

export class CaptureFolder {
  private files = 0;
  private bytes = 0;
  private constructor(
    readonly dir: string,
    /** True when the folder was made for this server (not configured). */
    readonly private_: boolean,
    private readonly identity: { dev: number; ino: number },
    readonly limits: CaptureLimits,
  ) {}

  /**
   * Prepares the folder: the configured one (checked, created 0700 if missing) or a
   * private one made now.
   * @example const f = CaptureFolder.open(undefined, DEFAULT_CAPTURE_LIMITS); f.dir // "/run/user/1000/leakscope-diagnostics-Ab12Cd"
   */
  static open(configured: string | undefined, limits: CaptureLimits = DEFAULT_CAPTURE_LIMITS): CaptureFolder {
    let dir: string;
    if (configured === undefined) {
      const xdg = process.env.XDG_RUNTIME_DIR;
      const xdgOk = xdg !== undefined && xdg !== '' && lstatOrUndefined(xdg)?.isDirectory() === true;
      dir = mkdtempSync(join(xdgOk ? xdg : tmpdir(), 'leakscope-diagnostics-')); // mkdtemp: mode 0700
    } else {
      dir = resolve(configured);
      const st = lstatOrUndefined(dir);
      if (st) checkOwnFolder(dir, st);
      else {
        try {
          mkdirSync(dir, { recursive: true, mode: 0o700 });
        } catch (e) {
          throw refuse(`cannot create ${dir}: ${(e as Error).message}`);
        }
      }
    }
    const st = lstatSync(dir);
    checkOwnFolder(dir, st);
    return new CaptureFolder(dir, configured === undefined, { dev: st.dev, ino: st.ino }, limits);
  }

  /** What was written so far, against the quota. */
  usage(): { dir: string; captures: number; bytes: number; maxCaptures: number; maxCaptureBytes: number } {
    return {
      dir: this.dir,
      captures: this.files,
      bytes: this.bytes,
      maxCaptures: this.limits.maxCaptures,
      maxCaptureBytes: this.limits.maxCaptureBytes,
    };
  }

  /**
   * Before a capture of about `estimate` bytes: the folder is still the one checked at
   * start, the quota has room, and the disk keeps its reserve afterwards.
   */
  beforeCapture(estimate: number): void {
    const st = lstatOrUndefined(this.dir);
    if (!st || st.isSymbolicLink() || st.dev !== this.identity.dev || st.ino !== this.identity.ino)
      throw new LsError(
        'LS_ERR_DIAGNOSTICS',
        `the diagnostics folder ${this.dir} was removed or replaced since start-up; refusing to write`,
      );
    const { maxCaptures, maxCaptureBytes, minFreeBytes } = this.limits;
    if (this.files >= maxCaptures)
      throw quota(
        `capture quota used up: ${this.files} of ${maxCaptures} captures written by this server (--diagnostics-max-captures)`,
      );
    if (this.bytes + estimate > maxCaptureBytes)
      throw quota(
        `capture quota: ${formatBytes(this.bytes)} written and this capture needs about ${formatBytes(estimate)}, over the ${formatBytes(maxCaptureBytes)} allowed (--diagnostics-max-capture-bytes)`,
      );
    const fs = statfsSync(this.dir);
    const free = fs.bavail * fs.bsize;
    if (free - estimate < minFreeBytes)
      throw quota(
        `not enough free disk for a capture in ${this.dir}: ${formatBytes(free)} free, about ${formatBytes(estimate)} needed and ${formatBytes(minFreeBytes)} kept free (--diagnostics-min-free-bytes)`,
      );
  }

  /** At shutdown: a private folder that stayed empty is removed (one holding captures is kept). */
  removeIfEmptyPrivate(): void {
    if (!this.private_) return;
    try {
      rmdirSync(this.dir);
    } catch {
      // not empty: the captures are the user's
    }
  }

  /** Counts a written capture against the quota. */
  written(bytes: number): void {
    this.files++;
    this.bytes += bytes;
  }
}
