/**
 * A spawned server must not outlive whoever spawned it. Linux has no parent-death signal
 * Node can ask for, but a pipe's read end sees end-of-file when every writer is gone, and
 * the kernel closes a process's descriptors however it dies (kill -9 included). So a
 * parent that keeps our stdin as a pipe and never writes to it is watched for free:
 * `--exit-with-parent` stops the server when stdin ends. A folder the parent made for
 * the server (its model folder) can be handed over with `--remove-on-exit`: the server
 * removes it on every exit of its own (signals, parent death, a crash), and the parent
 * still removes it when it kills the server outright.
 */
import { fstatSync, lstatSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, resolve } from 'node:path';
import { LsError } from '../common/errors.js';

/** Names a folder `--remove-on-exit` may remove: a `leakscope-*` folder directly in the temp dir. */
export const REMOVABLE_PREFIX = 'leakscope-';

/**
 * Checks a `--remove-on-exit` folder: it must be a real folder of this user named
 * `leakscope-*` directly in the temp dir, so a mistaken flag cannot remove anything else.
 */
export function checkRemovableFolder(dir: string): string {
  const path = resolve(dir);
  const bad = (m: string) => new LsError('LS_ERR_INVALID_OPTION', `--remove-on-exit ${dir}: ${m}`);
  let st: ReturnType<typeof lstatSync>;
  try {
    st = lstatSync(path);
  } catch (e) {
    throw bad(`cannot inspect it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  if (st.isSymbolicLink() || !st.isDirectory()) throw bad('expected a folder (not a symbolic link)');
  const uid = process.getuid?.();
  if (uid !== undefined && st.uid !== uid) throw bad(`owned by uid ${st.uid}, not by this user`);
  if (dirname(path) !== realpathSync(tmpdir()) && dirname(path) !== resolve(tmpdir()))
    throw bad(`only a folder directly in the temp dir (${tmpdir()}) may be handed over`);
  if (!basename(path).startsWith(REMOVABLE_PREFIX))
    throw bad(`only a folder named ${REMOVABLE_PREFIX}* may be handed over`);
  return path;
}

/** Removes `dir` when this process exits, however it exits short of SIGKILL. */
export function removeOnExit(dir: string): void {
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
}

/**
 * Calls `onGone` once when stdin ends (the parent holding its write end died or closed
 * it); returns the function that stops watching. stdin must be a pipe (or socket): a
 * terminal or /dev/null is not a parent's pipe, and /dev/null would end at once.
 */
export function watchParent(onGone: () => void): () => void {
  let st: ReturnType<typeof fstatSync>;
  try {
    st = fstatSync(0);
  } catch (e) {
    throw new LsError('LS_ERR_INVALID_OPTION', `--exit-with-parent: stdin is not open (${(e as Error).message})`);
  }
  if (!st.isFIFO() && !st.isSocket())
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--exit-with-parent: stdin must be a pipe held open by the parent process (it is a terminal, file or /dev/null)',
    );
  const stdin = process.stdin;
  let fired = false;
  const fire = () => {
    if (fired) return;
    fired = true;
    onGone();
  };
  stdin.on('end', fire);
  stdin.on('close', fire);
  stdin.on('error', fire);
  stdin.on('data', () => undefined); // reading is what notices end-of-file; anything written is ignored
  return () => {
    fired = true;
    stdin.destroy();
  };
}

/**
 * Calls `onGone` once when process `pid` no longer exists (checked every `everyMs`); returns
 * the function that stops watching. For a server started through a wrapper that gives it no
 * stdin pipe (Clinic.js Heap Profiler starts its target with stdin ignored), so
 * `--exit-with-parent` cannot see the spawning process die: the spawner names itself instead.
 * @example const unwatch = watchPid('1234', () => server.close());
 */
export function watchPid(pidText: string, onGone: () => void, everyMs = 500): () => void {
  const pid = /^[1-9]\d{0,9}$/.test(pidText) ? Number(pidText) : Number.NaN;
  if (!Number.isSafeInteger(pid))
    throw new LsError('LS_ERR_INVALID_OPTION', `--exit-with-pid: expected a process id, got '${pidText}'`);
  if (!pidExists(pid)) throw new LsError('LS_ERR_INVALID_OPTION', `--exit-with-pid ${pid}: no such process`);
  const timer = setInterval(() => {
    if (pidExists(pid)) return;
    clearInterval(timer);
    onGone();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, owned by someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
