/**
 * The open-model HTTP load driver (open-loop.ts) on undici's Pool: the same planned send
 * times, in-flight bound, drops, cuts and two latencies as the gRPC driver, for TF
 * Serving's REST API or any HTTP endpoint. The pool holds one keep-alive connection per
 * request allowed in flight, so a request is on the wire when the loop says it was sent,
 * never queued inside the client. Answers are counted by status code ("200", "429"…),
 * transport failures as "ERROR" and timeouts as "TIMEOUT".
 * (rest-driver.ts is the closed-loop alternative on autocannon: `connections: N`.)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Dispatcher, Pool } from 'undici';
import { LsError } from '../common/errors.js';
import type { Transport } from '../common/run-format.js';
import type { HttpRequestSpec } from './http-templates.js';
import {
  checkOpenLoopOptions,
  newLiveCounters,
  type OpenLoopOptions,
  type OpenLoopTransport,
  type Outcome,
  type RunningPhase,
  runOpenLoop,
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
  /** A pool the caller owns (kept open across phases, not closed here); default one per phase. */
  readonly pool?: Pool;
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
 * Opens an undici Pool to `url` sized for `maxInflight` requests at once (one keep-alive
 * connection each, no pipelining), with `timeoutMs` for headers and body.
 * @example const pool = openHttpPool('http://127.0.0.1:8501', 64); ... await pool.close();
 */
export function openHttpPool(url: string, maxInflight: number, timeoutMs = 30_000): Pool {
  return new Pool(new URL(url).origin, {
    connections: maxInflight,
    pipelining: 1,
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
    keepAliveTimeout: 60_000,
  });
}

let warmed: Promise<void> | undefined;

/**
 * The first requests undici sends in a process are slow: it compiles its llhttp
 * WebAssembly parser synchronously on the first connection, and its pool, connect and
 * dispatch paths start cold (together 0.2–1.5 s on a loaded 2-core machine). That would
 * stall the first phase's schedule and show as latency, so a few dozen requests over a
 * pool to a throwaway in-process loopback server pay it before any schedule starts,
 * without touching the target.
 */
export function warmHttpClient(): Promise<void> {
  warmed ??= (async () => {
    const server = createServer({ keepAliveTimeout: 5000 }, (req, res) => {
      req.resume();
      res.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const pool = openHttpPool(url, 4, 5000);
    try {
      const t = httpTransport(pool, () => ({ method: 'POST', path: '/', headers: {}, body: '{}' }), 'http', 5000);
      for (let wave = 0; wave < 8; wave++) await Promise.all([0, 1, 2, 3].map((i) => t.send(i)));
    } finally {
      await pool.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  })();
  return warmed;
}

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT']);
const CUT = new Error('cut at the end of the phase');

/** Requests dispatched on the pool, each ending in its status code, "ERROR" or "TIMEOUT". */
function httpTransport(
  pool: Dispatcher,
  request: (i: number) => HttpRequestSpec,
  transport: Transport,
  timeoutMs: number,
): OpenLoopTransport {
  // Requests on a socket, by their controller, so the phase end can cut them.
  const open = new Set<Dispatcher.DispatchController>();
  let cutting = false;
  return {
    name: transport,
    send(i) {
      const r = request(i);
      return new Promise<Outcome>((resolve) => {
        let code = 0;
        let ctl: Dispatcher.DispatchController | undefined;
        const settle = (out: Outcome) => {
          if (ctl) open.delete(ctl);
          resolve(out);
        };
        pool.dispatch(
          {
            path: r.path,
            method: r.method as Dispatcher.HttpMethod,
            headers: r.headers,
            body: r.body ?? null,
            headersTimeout: timeoutMs,
            bodyTimeout: timeoutMs,
          },
          {
            onRequestStart(c) {
              ctl = c;
              if (cutting) c.abort(CUT);
              else open.add(c);
            },
            onResponseStart(_c, statusCode) {
              code = statusCode;
            },
            onResponseData() {},
            onResponseEnd() {
              settle({ status: String(code), isError: code < 200 || code > 299 });
            },
            onResponseError(_c, err) {
              const timeout = TIMEOUT_CODES.has((err as { code?: string }).code ?? '');
              settle({ status: timeout ? 'TIMEOUT' : 'ERROR', isError: true });
            },
          },
        );
      });
    },
    cancelAll() {
      cutting = true;
      for (const c of open) c.abort(CUT);
      open.clear();
    },
  };
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
  checkHttpTarget(o.url, o.request, 'http driver');
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `http driver: ${field} ${msg}`);
  if (o.timeoutMs !== undefined && (!Number.isInteger(o.timeoutMs) || o.timeoutMs < 1))
    throw fail('timeoutMs', `must be an integer >= 1, got ${o.timeoutMs}`);
  if (o.pool !== undefined && !(o.pool instanceof Pool)) throw fail('pool', 'must be an undici Pool (openHttpPool)');
  const live = o.live ?? newLiveCounters();
  const timeoutMs = o.timeoutMs ?? 30_000;
  const pool = o.pool ?? openHttpPool(o.url, o.maxInflight ?? 1000, timeoutMs);
  const transport = httpTransport(pool, o.request, o.transport ?? 'rest', timeoutMs);
  const done = warmHttpClient()
    .then(() => runOpenLoop(o, live, transport, 'http driver'))
    .finally(() => (o.pool ? undefined : pool.destroy()));
  return { live, done };
}
