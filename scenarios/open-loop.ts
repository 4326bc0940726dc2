/**
 * The open-model send loop shared by the gRPC and HTTP drivers: request i leaves at its
 * planned time (schedule.ts), whatever happened to the requests before it. One timer
 * sends every request that is due. When the in-flight bound is reached at a request's
 * intended time, that request is dropped and counted, never delayed, so the offered load
 * stays what the scenario planned. Latency is recorded from the intended time
 * (coordinated-omission free) and from the actual send; answers are counted by status.
 */
import { LsError } from '../common/errors.js';
import type { PhaseResult, Transport } from '../common/run-format.js';
import { latencyRecorder } from './latency.js';

/** Counters readable while a phase runs (the runner's progress line and samples). */
export interface LiveCounters {
  sent: number;
  completed: number;
  inflight: number;
  dropped: number;
  errors: number;
}

const ABORT_DRAIN_MS = 1000;

export const newLiveCounters = (): LiveCounters => ({ sent: 0, completed: 0, inflight: 0, dropped: 0, errors: 0 });

/** What every open-model driver takes besides its transport. */
export interface OpenLoopOptions {
  /** Phase name, copied into the result. */
  readonly name: string;
  /** Intended send times, ms from the phase start (planArrivals). */
  readonly schedule: Float64Array;
  /** In-flight bound; a request due while it is reached is dropped (default 1000). */
  readonly maxInflight?: number;
  /** Stops sending; calls in flight get `drainMs` to finish, then are cancelled. */
  readonly signal?: AbortSignal;
  /** How long to wait for in-flight calls after the last send (default 10 000; after an abort at most 1000). */
  readonly drainMs?: number;
  /** Counters object to update (default a fresh one). */
  readonly live?: LiveCounters;
}

export interface RunningPhase {
  readonly live: LiveCounters;
  readonly done: Promise<PhaseResult>;
}

/** Sends request i; calls `finish(status, isError)` exactly once; returns a canceller. */
export type SendFn = (i: number, finish: (status: string, isError: boolean) => void) => () => void;

export function checkOpenLoopOptions(o: OpenLoopOptions, who: string): void {
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `${who}: ${field} ${msg}`);
  if (!(o.schedule instanceof Float64Array)) throw fail('schedule', 'must be a Float64Array of ms offsets');
  const int = (field: string, v: number | undefined, min: number) => {
    if (v !== undefined && (!Number.isInteger(v) || v < min))
      throw fail(field, `must be an integer >= ${min}, got ${v}`);
  };
  int('maxInflight', o.maxInflight, 1);
  int('drainMs', o.drainMs, 0);
}

/** Runs the loop to the end of the schedule (or the abort), drains, and summarises. */
export async function runOpenLoop(
  o: OpenLoopOptions,
  live: LiveCounters,
  transport: Transport,
  send: SendFn,
  who: string,
): Promise<PhaseResult> {
  const maxInflight = o.maxInflight ?? 1000;
  const drainMs = o.drainMs ?? 10_000;
  const schedule = o.schedule;
  const fromIntended = latencyRecorder();
  const fromSent = latencyRecorder();
  const statusCounts: Record<string, number> = {};
  const cancels = new Map<number, () => void>();
  let sent = 0;
  let completed = 0;
  let dropped = 0;
  let errors = 0;
  let inflight = 0;
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  let onIdle: (() => void) | undefined;
  let failure: unknown;

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  const start = (i: number, intended: number) => {
    const s = performance.now();
    let finished = false;
    inflight++;
    sent++;
    live.sent = sent;
    live.inflight = inflight;
    const finish = (status: string, isError: boolean) => {
      if (finished) return;
      finished = true;
      const end = performance.now();
      cancels.delete(i);
      inflight--;
      completed++;
      statusCounts[status] = (statusCounts[status] ?? 0) + 1;
      if (isError) errors++;
      fromIntended.recordMs(end - intended);
      fromSent.recordMs(end - s);
      live.completed = completed;
      live.inflight = inflight;
      live.errors = errors;
      if (inflight === 0) onIdle?.();
    };
    let cancel: () => void;
    try {
      cancel = send(i, finish);
    } catch (e) {
      inflight--;
      sent--;
      // A factory bug is the caller's: stop the phase with it rather than count it as load.
      throw new LsError('LS_ERR_INVALID_OPTION', `${who}: request(${i}) threw: ${(e as Error).message}`);
    }
    if (!finished) cancels.set(i, cancel);
  };

  await new Promise<void>((resolve) => {
    const stop = () => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      resolve();
    };
    const tick = () => {
      timer = undefined;
      if (o.signal?.aborted) return stop();
      const now = performance.now();
      try {
        while (next < schedule.length && t0 + schedule[next]! <= now) {
          if (inflight >= maxInflight) {
            dropped++;
            live.dropped = dropped;
          } else start(next, t0 + schedule[next]!);
          next++;
        }
      } catch (e) {
        failure = e;
        return stop();
      }
      if (next >= schedule.length) return stop();
      timer = setTimeout(tick, Math.max(0, t0 + schedule[next]! - performance.now()));
    };
    o.signal?.addEventListener('abort', () => (timer ? stop() : undefined), { once: true });
    tick();
  });

  if (inflight > 0) {
    // After an abort (Ctrl-C) the user is waiting: drain for at most a second.
    const wait = o.signal?.aborted ? Math.min(drainMs, ABORT_DRAIN_MS) : drainMs;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, wait);
      onIdle = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
  if (inflight > 0) {
    // Calls still open past the drain are cancelled; they count under the transport's
    // cancel status (CANCELLED / "ERROR").
    await new Promise<void>((resolve) => {
      onIdle = resolve;
      setTimeout(resolve, 1000).unref();
      for (const c of [...cancels.values()]) c();
    });
  }
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  try {
    if (failure) throw failure;
    return {
      name: o.name,
      transport,
      planned: schedule.length,
      sent,
      completed,
      dropped,
      statusCounts,
      errors,
      achievedRate: completed / Math.max(1e-3, (end - t0) / 1000),
      ...(fromIntended.count ? { latencyFromIntended: fromIntended.summary() } : {}),
      ...(fromSent.count ? { latencyFromSent: fromSent.summary() } : {}),
      ...(completed ? { driverCpuUsPerRequest: (cpu.user + cpu.system) / completed } : {}),
    };
  } finally {
    fromIntended.free();
    fromSent.free();
  }
}
