/**
 * The closed-loop HTTP load driver (a phase with `connections: N`): autocannon, each
 * connection sending its next request as soon as the last is answered, for the most
 * throughput N connections get (optionally capped by `overallRate`). One dynamic request
 * whose setupRequest builds request i (its own body, path and headers), for TF Serving's
 * REST API or any HTTP endpoint. A closed loop has no intended send times: only latency
 * from the actual send is reported, `dropped` is 0, and requests unanswered when it stops
 * at the duration's end are `cut`. Open-model HTTP load is http-driver.ts.
 */
import autocannon from 'autocannon';
import { LsError } from '../common/errors.js';
import type { PhaseResult, Transport } from '../common/run-format.js';
import { newLiveCounters, type LiveCounters, type RunningPhase } from './open-loop.js';
import { checkHttpTarget } from './http-driver.js';
import type { HttpRequestSpec } from './http-templates.js';
import { latencyRecorder } from './latency.js';

// The open-model HTTP driver lives beside this one; the runner imports both from here.
export { startHttpPhase, tfRestRequest, type HttpPhaseOptions } from './http-driver.js';

export interface RestPhaseOptions {
  /** Base URL, e.g. http://127.0.0.1:8501 */
  readonly url: string;
  readonly name: string;
  /** Request i: method, path, headers, body (httpRequestFactory, or TF Serving predict). */
  readonly request: (i: number) => HttpRequestSpec;
  /** Requests per second over all connections; omitted = as fast as the connections go. */
  readonly rate?: number;
  /** Phase length in seconds (ignored when `requests` is given). */
  readonly durationS?: number;
  /** Request count (autocannon `amount`). */
  readonly requests?: number;
  /** Concurrent connections (default 10, at most `requests` and `rate`). */
  readonly connections?: number;
  /** Per-request timeout in seconds (default 10). */
  readonly timeoutS?: number;
  readonly signal?: AbortSignal;
  readonly live?: LiveCounters;
  /** Recorded in the result (default 'rest'; 'http' for generic endpoints). */
  readonly transport?: Transport;
}

function checkOptions(o: RestPhaseOptions): void {
  checkHttpTarget(o.url, o.request, 'rest driver');
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `rest driver: ${field} ${msg}`);
  const pos = (field: string, v: number | undefined, int: boolean) => {
    if (v !== undefined && (!Number.isFinite(v) || v <= 0 || (int && !Number.isInteger(v))))
      throw fail(field, `must be ${int ? 'an integer' : 'a number'} > 0, got ${v}`);
  };
  pos('rate', o.rate, false);
  pos('durationS', o.durationS, false);
  pos('requests', o.requests, true);
  pos('connections', o.connections, true);
  pos('timeoutS', o.timeoutS, false);
  if (o.requests === undefined && o.durationS === undefined) throw fail('durationS', 'or requests is required');
}

/**
 * Starts one REST load phase. Equals a `rest` or `http` phase of `leakscope run`.
 *
 * @example
 * const reqs = predictRequests({ model: { name: 'ctr' }, inputs, order: { kind: 'permutations', k: 24 } });
 * const phase = startRestPhase({ name: 'rest', url: 'http://127.0.0.1:8501', rate: 100, durationS: 5, request: tfRestRequest('/v1/models/ctr:predict', reqs.rest) });
 * const result = await phase.done;
 */
export function startRestPhase(o: RestPhaseOptions): RunningPhase {
  checkOptions(o);
  const live = o.live ?? newLiveCounters();
  return { live, done: runPhase(o, live) };
}

function runPhase(o: RestPhaseOptions, live: LiveCounters): Promise<PhaseResult> {
  const fromSent = latencyRecorder();
  const statusCounts: Record<string, number> = {};
  let built = 0;
  let responses = 0;
  let failures = 0;
  let non2xx = 0;
  let factoryError: Error | undefined;
  const bump = (k: string) => (statusCounts[k] = (statusCounts[k] ?? 0) + 1);
  const count = o.requests;
  let connections = o.connections ?? 10;
  if (count !== undefined) connections = Math.min(connections, count);
  if (o.rate !== undefined) connections = Math.max(1, Math.min(connections, Math.floor(o.rate)));
  const base = new URL(o.url);
  const first = o.request(0);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  return new Promise<PhaseResult>((resolve, reject) => {
    let instance: ReturnType<typeof autocannon> | undefined;
    const onAbort = () => instance?.stop();
    instance = autocannon(
      {
        url: base.origin,
        connections,
        timeout: o.timeoutS ?? 10,
        ...(count !== undefined ? { amount: count } : { duration: o.durationS! }),
        ...(o.rate !== undefined ? { overallRate: o.rate } : {}),
        excludeErrorStats: false,
        requests: [
          {
            method: first.method,
            path: first.path,
            headers: first.headers,
            ...(first.body !== undefined ? { body: first.body } : {}),
            setupRequest: (req) => {
              const i = built++;
              live.sent = built;
              try {
                const r = i === 0 ? first : o.request(i);
                return { ...req, method: r.method, path: r.path, headers: r.headers, body: r.body ?? '' };
              } catch (e) {
                factoryError ??= e as Error;
                instance?.stop();
                return req;
              }
            },
          },
        ],
      },
      (err, res) => {
        o.signal?.removeEventListener('abort', onAbort);
        const end = performance.now();
        const cpu = process.cpuUsage(cpu0);
        if (err || factoryError) {
          fromSent.free();
          return reject(
            factoryError
              ? new LsError('LS_ERR_INVALID_OPTION', `rest driver: request() threw: ${factoryError.message}`)
              : err,
          );
        }
        if (res.timeouts) statusCounts['TIMEOUT'] = res.timeouts;
        if (res.errors - res.timeouts > 0) statusCounts['ERROR'] = res.errors - res.timeouts;
        const completed = responses + res.errors;
        // autocannon builds each request as it writes it (setupRequest), so `built` is what
        // was sent; what had no answer when it stopped (at the duration's end) was cut.
        const sent = Math.max(completed, built);
        const planned = count ?? (o.rate !== undefined ? Math.round(o.rate * o.durationS!) : sent);
        const result: PhaseResult = {
          name: o.name,
          transport: o.transport ?? 'rest',
          planned,
          sent,
          completed,
          dropped: 0,
          cut: sent - completed,
          statusCounts,
          errors: non2xx + res.errors,
          achievedRate: completed / Math.max(1e-3, (end - t0) / 1000),
          ...(fromSent.count ? { latencyFromSent: fromSent.summary() } : {}),
          ...(completed ? { driverCpuUsPerRequest: (cpu.user + cpu.system) / completed } : {}),
        };
        fromSent.free();
        resolve(result);
      },
    );
    instance.on('response', (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
      responses++;
      if (statusCode < 200 || statusCode > 299) non2xx++;
      bump(String(statusCode));
      fromSent.recordMs(responseTimeMs);
      live.completed = responses + failures;
      live.inflight = Math.max(0, built - live.completed);
    });
    instance.on('reqError', () => {
      failures++;
      live.errors = failures + non2xx;
      live.completed = responses + failures;
    });
    if (o.signal?.aborted) instance.stop();
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
}
