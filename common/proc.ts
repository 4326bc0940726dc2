/**
 * Process facts from Linux /proc, for any process (a Node target or a native one such
 * as TF Serving): resident memory, its high-water mark, threads and their names, open
 * file descriptors. Synchronous on purpose: each file is a few hundred bytes served from
 * kernel memory, and samplers call this every 250 ms, where thread-pool round trips
 * would cost more than the reads.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { LsError } from './errors.js';

export interface ProcStats {
  readonly pid: number;
  readonly rssBytes: number;
  /** Peak resident set size (VmHWM). */
  readonly vmHwmBytes: number;
  readonly threads: number;
  /** Thread count by name (/proc/<pid>/task/<tid>/comm; Node names every thread "node"). */
  readonly threadsByName: Record<string, number>;
  /** null when the fd table cannot be read (another user's process). */
  readonly openFds: number | null;
}

/** "VmRSS:    1234 kB" → bytes; 0 when absent (kernel threads, zombies). */
function kbField(status: string, field: string): number {
  const at = status.indexOf(`\n${field}:`);
  if (at < 0) return 0;
  const m = /^\s*(\d+)\s*kB/.exec(status.slice(at + field.length + 2, at + field.length + 40));
  return m ? Number(m[1]) * 1024 : 0;
}

function intField(status: string, field: string): number {
  const m = new RegExp(`\\n${field}:\\s*(\\d+)`).exec(status);
  return m ? Number(m[1]) : 0;
}

function threadNames(pid: number): Record<string, number> {
  const byName: Record<string, number> = {};
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return byName;
  }
  for (const tid of tids) {
    let name: string;
    try {
      name = readFileSync(`/proc/${pid}/task/${tid}/comm`, 'utf8').trimEnd();
    } catch {
      continue; // the thread exited between readdir and read
    }
    byName[name] = (byName[name] ?? 0) + 1;
  }
  return byName;
}

function openFds(pid: number): number | null {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return null;
  }
}

/**
 * A process's OS thread count alone (/proc/<pid>/status `Threads:`), for a gauge read at every
 * scrape; undefined where there is no /proc.
 * @example threadCount(process.pid) // 11
 */
export function threadCount(pid: number): number | undefined {
  try {
    return intField(readFileSync(`/proc/${pid}/status`, 'utf8'), 'Threads') || undefined;
  } catch {
    return undefined;
  }
}

/**
 * Reads one sample of a process's memory, threads and fds from /proc.
 * @example readProcStats(process.pid).threads
 */
export function readProcStats(pid: number): ProcStats {
  if (!Number.isSafeInteger(pid) || pid <= 0) throw new LsError('LS_ERR_TARGET', `not a process id: ${pid}`);
  let status: string;
  try {
    status = readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH')
      throw new LsError('LS_ERR_TARGET', `process ${pid} does not exist (no /proc/${pid}); did the target exit?`);
    throw new LsError('LS_ERR_TARGET', `cannot read /proc/${pid}/status: ${(e as Error).message}`, { cause: e });
  }
  const byName = threadNames(pid);
  const listed = Object.values(byName).reduce((a, b) => a + b, 0);
  return {
    pid,
    rssBytes: kbField(status, 'VmRSS'),
    vmHwmBytes: kbField(status, 'VmHWM'),
    // status' count is atomic; the task listing can race with threads coming and going.
    threads: intField(status, 'Threads') || listed,
    threadsByName: byName,
    openFds: openFds(pid),
  };
}

/**
 * When a process started, in clock ticks since boot (/proc/<pid>/stat field 22); undefined
 * when it does not exist. With the pid, it identifies a process even after its pid is reused.
 * @example processStartTicks(process.pid)
 */
export function processStartTicks(pid: number): number | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: count fields after its ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[19]);
  return Number.isSafeInteger(ticks) ? ticks : undefined;
}
