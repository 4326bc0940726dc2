/**
 * Background boots for handler threads: a thread created beyond the boot bound boots at the
 * lowest CPU priority and is brought back to the process's priority once a boot slot frees or
 * it is up. gRPC C++'s sync server creates a thread per pickup at thread-creation speed
 * (thread_manager.cc, MainWorkLoop); a worker_thread exists as an OS thread as soon as
 * `new Worker()` returns (~1 ms of the main thread), but then boots an isolate for ~75–130 ms
 * of CPU. Deferring the creation of all but a few keeps the cores for the main thread and makes
 * the thread count lag the requests in flight; creating them all at normal priority starves
 * the main thread that accepts requests. At the lowest priority they exist at once and boot on
 * what CPU the main thread and the running boots leave.
 *
 * Linux only, and only where the process may raise a thread's priority back (CAP_SYS_NICE, or
 * an RLIMIT_NICE that allows the process's own nice value): lowering is always allowed, raising
 * is not, and a handler thread left at the lowest priority would serve behind every other
 * process on the machine. Elsewhere the strategy is absent and threads past the bound wait their
 * turn to be created. Nice values are per thread on Linux: setpriority(PRIO_PROCESS, tid)
 * renices that thread alone.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority, setPriority } from 'node:os';

/** The lowest priority (nice 19). */
const LOWEST = 19;
/** CAP_SYS_NICE's bit in /proc/self/status' CapEff. */
const CAP_SYS_NICE = 23n;

/** Lowers new threads while they boot and raises them back; chosen once at start-up. */
export interface BootPriority {
  /**
   * Runs `create` (which must start exactly one OS thread, e.g. `new Worker()`) and lowers that
   * thread to the lowest priority. `tid` is undefined when the new thread could not be told
   * apart from others started meanwhile, or could not be lowered: it then boots as any other.
   */
  lowered<T>(create: () => T): { value: T; tid: number | undefined };
  /** Brings a lowered thread back to the process's priority (a thread gone meanwhile is ignored). */
  restore(tid: number): void;
}

function taskIds(): Set<string> {
  return new Set(readdirSync('/proc/self/task'));
}

/** Whether this process may set a thread's nice value down to `nice` (CAP_SYS_NICE or RLIMIT_NICE). */
export function mayRaiseTo(nice: number, status: string, limits: string): boolean {
  const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(status);
  if (cap && (BigInt(`0x${cap[1]}`) >> CAP_SYS_NICE) & 1n) return true;
  // RLIMIT_NICE r lets an unprivileged thread go as low as nice 20 − r.
  const lim = /^Max nice priority\s+(\d+|unlimited)/m.exec(limits);
  if (!lim) return false;
  return lim[1] === 'unlimited' || 20 - Number(lim[1]) <= nice;
}

/**
 * The background-boot strategy where this process can use it (Linux, /proc, and the right to
 * raise a thread back to its own priority); undefined elsewhere.
 */
export function backgroundBoots(): BootPriority | undefined {
  if (process.platform !== 'linux') return undefined;
  let base: number;
  try {
    base = getPriority();
    if (base >= LOWEST) return undefined; // already the lowest: nothing to lower to
    taskIds();
    if (!mayRaiseTo(base, readFileSync('/proc/self/status', 'utf8'), readFileSync('/proc/self/limits', 'utf8')))
      return undefined;
  } catch {
    return undefined;
  }
  return Object.freeze({
    lowered<T>(create: () => T) {
      const before = taskIds();
      const value = create();
      let tid: number | undefined;
      try {
        const added = [...taskIds()].filter((t) => !before.has(t));
        // Anything but exactly one new thread is ambiguous: lower nothing rather than the wrong one.
        if (added.length === 1) {
          setPriority(Number(added[0]), LOWEST);
          tid = Number(added[0]);
        }
      } catch {
        tid = undefined; // gone already, or not ours to lower: it boots as any other
      }
      return { value, tid };
    },
    restore(tid: number) {
      try {
        setPriority(tid, base);
      } catch {
        // The thread has ended meanwhile.
      }
    },
  });
}
