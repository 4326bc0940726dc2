/**
 * The open-model send loop shared by the gRPC and HTTP drivers: request i leaves at its
 * planned time (schedule.ts), whatever happened to the requests before it. One timer
 * sends every request that is due. When the in-flight bound is reached at a request's
 * intended time, that request is dropped and counted, never delayed, so the offered load
 * stays what the scenario planned. Latency is recorded from the intended time
 * (coordinated-omission free) and from the actual send; answers are counted by status.
 * Each transport (grpc-driver.ts, http-driver.ts) only supplies "send request i → promise
 * of its outcome"; everything about time, bounds and counting lives here, once.
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

/** How one request ended: a status name ("OK", "200", "RESOURCE_EXHAUSTED", "ERROR"…) and whether it counts as an error. */
export interface Outcome {
  readonly status: string;
  readonly isError: boolean;
}

/**
 * What a transport supplies to the open loop: send one request, get a promise of its
 * outcome. A failed request (transport error, timeout, error status) resolves with an
 * error outcome; the promise rejects only on a bug, which is then counted as "ERROR".
 */
export interface OpenLoopTransport {
  /** Recorded in the result. */
  readonly name: Transport;
  /** Sends request i now. Throws synchronously only when request i cannot be built. */
  send(i: number): Promise<Outcome>;
  /** Cancels every request still in flight (the phase's drain is over); their outcomes are ignored. */
  cancelAll(): void;
}

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

const BUG_OUTCOME: Outcome = { status: 'ERROR', isError: true };

/**
 * Runs the loop to the end of the schedule (or the abort), drains, cuts what is still in
 * flight, and summarises. Every planned request ends in exactly one place: dropped (due
 * while the in-flight bound was reached, never sent), completed (an answer of any status,
 * or a transport failure or timeout; `errors` counts the non-success among them), or cut
 * (still in flight when the drain ended, cancelled). So planned = sent + dropped and
 * sent = completed + cut, unless an abort stopped the schedule early.
 */
export async function runOpenLoop(
  o: OpenLoopOptions,
  live: LiveCounters,
  transport: OpenLoopTransport,
  who: string,
): Promise<PhaseResult> {
  const maxInflight = o.maxInflight ?? 1000;
  const drainMs = o.drainMs ?? 10_000;
  const schedule = o.schedule;
  const fromIntended = latencyRecorder();
  const fromSent = latencyRecorder();
  const statusCounts: Record<string, number> = {};
  let sent = 0;
  let completed = 0;
  let dropped = 0;
  let errors = 0;
  let inflight = 0;
  let next = 0;
  // Set once the drain is over: answers arriving after that belong to cut requests.
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let onIdle: (() => void) | undefined;
  let failure: unknown;

  const cpu0 = process.cpuUsage();
  const t0 = performance.now();

  const finish = (out: Outcome, intended: number, s: number) => {
    if (closed) return;
    const end = performance.now();
    inflight--;
    completed++;
    statusCounts[out.status] = (statusCounts[out.status] ?? 0) + 1;
    if (out.isError) errors++;
    fromIntended.recordMs(end - intended);
    fromSent.recordMs(end - s);
    live.completed = completed;
    live.inflight = inflight;
    live.errors = errors;
    if (inflight === 0) onIdle?.();
  };

  const start = (i: number, intended: number) => {
    const s = performance.now();
    let pending: Promise<Outcome>;
    try {
      pending = transport.send(i);
    } catch (e) {
      // A factory bug is the caller's: stop the phase with it rather than count it as load.
      throw new LsError('LS_ERR_INVALID_OPTION', `${who}: request(${i}) threw: ${(e as Error).message}`);
    }
    inflight++;
    sent++;
    live.sent = sent;
    live.inflight = inflight;
    pending.then(
      (out) => finish(out, intended, s),
      () => finish(BUG_OUTCOME, intended, s),
    );
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
  const end = performance.now();
  const cpu = process.cpuUsage(cpu0);
  // Requests still in flight past the drain are cut: counted apart, then cancelled.
  closed = true;
  const cut = inflight;
  live.inflight = 0;
  if (cut > 0) transport.cancelAll();
  try {
    if (failure) throw failure;
    return {
      name: o.name,
      transport: transport.name,
      planned: schedule.length,
      sent,
      completed,
      dropped,
      cut,
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
