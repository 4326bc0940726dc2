/**
 * The open-model HTTP load driver (open-loop.ts) on node:http with keep-alive: the same
 * planned send times, in-flight bound, drops and two latencies as the gRPC driver, for
 * TF Serving's REST API or any HTTP endpoint. Answers are counted by status code
 * ("200", "429"…), transport failures as "ERROR" and timeouts as "TIMEOUT".
 * (rest-driver.ts is the autocannon alternative: closed-loop, paced by a rate.)
 */
import http from 'node:http';
import { LsError } from '../common/errors.js';
import type { Transport } from '../common/run-format.js';
import type { HttpRequestSpec } from './http-templates.js';
import {
  checkOpenLoopOptions,
  newLiveCounters,
  runOpenLoop,
  type OpenLoopOptions,
  type RunningPhase,
} from './open-loop.js';

export interface HttpPhaseOptions extends OpenLoopOptions {
  /** Base URL, e.g. http://127.0.0.1:8501 */
  readonly url: string;
  /** Request i: method, path, headers, body (httpRequestFactory, tfRestRequest). */
  readonly request: (i: number) => HttpRequestSpec;
  /** Per-request timeout (default 30 000 ms). */
  readonly timeoutMs?: number;
  /** Recorded in the result (default 'rest'; 'http' for generic endpoints). */
  readonly transport?: Transport;
}

/**
 * A TF Serving REST predict request factory over prebuilt JSON bodies.
 * @example const req = tfRestRequest(restPredictPath({ name: 'ctr' }), reqs.rest);
 */
export function tfRestRequest(path: string, body: (i: number) => string): (i: number) => HttpRequestSpec {
  const headers = { 'content-type': 'application/json' };
  return (i) => ({ method: 'POST', path, headers, body: body(i) });
}

/** Checks the base URL (http only) and the request factory of an HTTP driver. */
export function checkHttpTarget(url: string, request: unknown, who: string): URL {
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `${who}: ${field} ${msg}`);
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw fail('url', `is not a URL: ${url}`);
  }
  if (base.protocol !== 'http:') throw fail('url', `must be http://host:port, got ${url}`);
  if (typeof request !== 'function') throw fail('request', 'must be a function (i) => {method, path, headers, body}');
  return base;
}

/**
 * Starts one open-model HTTP load phase. Equals a `rest` or `http` phase of `leakscope run`.
 *
 * @example
 * const schedule = planArrivals({ kind: 'constant', rate: 100, durationS: 5 });
 * const phase = startHttpPhase({ name: 'rest', url: 'http://127.0.0.1:8501', schedule, request: tfRestRequest('/v1/models/ctr:predict', reqs.rest) });
 * const result = await phase.done;
 */
export function startHttpPhase(o: HttpPhaseOptions): RunningPhase {
  checkOpenLoopOptions(o, 'http driver');
  const base = checkHttpTarget(o.url, o.request, 'http driver');
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `http driver: ${field} ${msg}`);
  if (o.timeoutMs !== undefined && (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1))
    throw fail('timeoutMs', `must be an integer >= 1, got ${o.timeoutMs}`);
  const live = o.live ?? newLiveCounters();
  const agent = new http.Agent({ keepAlive: true, maxSockets: o.maxInflight ?? 1000 });
  const timeoutMs = o.timeoutMs ?? 30_000;
  const host = base.hostname.replace(/^\[|\]$/g, '');
  const port = Number(base.port || 80);
  const send = (i: number, finish: (status: string, isError: boolean) => void) => {
    const r = o.request(i);
    const body = r.body === undefined ? undefined : Buffer.from(r.body);
    const headers = body ? { ...r.headers, 'content-length': String(body.length) } : r.headers;
    const req = http.request(
      { agent, host, port, method: r.method, path: r.path, headers, timeout: timeoutMs },
      (res) => {
        const code = res.statusCode ?? 0;
        const bad = code < 200 || code > 299;
        res.on('end', () => finish(String(code), bad));
        // A connection cut mid-body ends in 'close' without 'end' (and maybe no 'error').
        res.on('close', () => finish(res.complete ? String(code) : 'ERROR', bad || !res.complete));
        res.on('error', () => finish('ERROR', true));
        res.resume();
      },
    );
    req.on('timeout', () => {
      finish('TIMEOUT', true);
      req.destroy();
    });
    req.on('error', () => finish('ERROR', true));
    req.end(body);
    return () => req.destroy();
  };
  const done = runOpenLoop(o, live, o.transport ?? 'rest', send, 'http driver').finally(() => agent.destroy());
  return { live, done };
}
