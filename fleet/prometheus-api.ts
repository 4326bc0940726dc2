/**
 * A small client of Prometheus' HTTP API (`/api/v1/query_range`), written for reading a
 * fleet's history without overloading the server it reads from:
 * - a range is split into pages by time so no query asks for more than `maxPointsPerQuery`
 *   points per series (Prometheus refuses more than 11,000), and no answer holds more than
 *   `maxPointsPerResponse` points in all: the first page is short, and the number of series
 *   it returns sets the length of the others (a 1,000-pod fleet gets 400-point pages, one
 *   pod 10,000-point pages), so neither Prometheus nor this process builds a huge answer;
 * - every page of every query goes through one semaphore, so at most `concurrency`
 *   requests are in flight at once, whatever the fleet's size (the default 4 leaves the
 *   rest of Prometheus' query concurrency, 20 by default, to dashboards and rules);
 * - pages are handed to the caller as they arrive and not kept, so memory holds one page
 *   per request in flight, not the whole answer.
 * Errors say which URL and query failed: unreachable (LS_ERR_PROMETHEUS), a query
 * Prometheus refused as bad data (LS_ERR_INVALID_OPTION), anything else it answered
 * (LS_ERR_PROMETHEUS).
 */
import { LsError } from '../common/errors.js';
import { isRecord } from '../common/objects.js';

/** Prometheus' own limit on points per series in one range query. */
export const PROMETHEUS_MAX_POINTS = 11_000;

export interface PrometheusClientOptions {
  /** Base URL, e.g. http://127.0.0.1:9090 (a path prefix such as /prometheus is kept). */
  readonly url: string;
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Points per series per query (default 10,000; at most 11,000). */
  readonly maxPointsPerQuery?: number;
  /** Points per answer, all series together (default 400,000, ~10 MB of JSON). */
  readonly maxPointsPerResponse?: number;
  /** Per-request timeout (default 120 s). */
  readonly timeoutMs?: number;
}

/** Points of the first page of a range query, which tells how many series the query has. */
const PROBE_POINTS = 100;

/** One series of one page: its labels and [unix seconds, "value"] pairs as Prometheus sends them. */
export type PageSink = (
  labels: Readonly<Record<string, string>>,
  values: readonly (readonly [number, string])[],
) => void;

/** A counting semaphore: run(fn) waits until fewer than `limit` runs are active. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  peak = 0;
  constructor(private readonly limit: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    this.active++;
    this.peak = Math.max(this.peak, this.active);
    try {
      return await fn();
    } finally {
      this.active--;
      this.waiting.shift()?.();
    }
  }
}

/**
 * Checks and normalises a Prometheus base URL (no trailing slash).
 * @example prometheusBaseUrl('http://127.0.0.1:9090/') // 'http://127.0.0.1:9090'
 */
export function prometheusBaseUrl(text: string): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new LsError('LS_ERR_INVALID_OPTION', `--prometheus: '${text}' is not a URL (e.g. http://127.0.0.1:9090)`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:')
    throw new LsError('LS_ERR_INVALID_OPTION', `--prometheus: '${text}' must be an http:// or https:// URL`);
  return u.href.replace(/\/+$/, '');
}

export class PrometheusClient {
  readonly url: string;
  readonly concurrency: number;
  readonly maxPointsPerQuery: number;
  readonly maxPointsPerResponse: number;
  private readonly timeoutMs: number;
  private readonly gate: Semaphore;
  /** HTTP requests made so far. */
  requests = 0;

  constructor(opts: PrometheusClientOptions) {
    this.url = prometheusBaseUrl(opts.url);
    this.concurrency = opts.concurrency ?? 4;
    this.maxPointsPerQuery = opts.maxPointsPerQuery ?? 10_000;
    this.maxPointsPerResponse = opts.maxPointsPerResponse ?? 400_000;
    this.timeoutMs = opts.timeoutMs ?? 120_000;
    if (!Number.isInteger(this.concurrency) || this.concurrency < 1 || this.concurrency > 64)
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `--concurrency: must be a whole number from 1 to 64, got ${this.concurrency}`,
      );
    if (
      !Number.isInteger(this.maxPointsPerQuery) ||
      this.maxPointsPerQuery < 2 ||
      this.maxPointsPerQuery > PROMETHEUS_MAX_POINTS
    )
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `maxPointsPerQuery: must be from 2 to ${PROMETHEUS_MAX_POINTS} (Prometheus' limit), got ${this.maxPointsPerQuery}`,
      );
    this.gate = new Semaphore(this.concurrency);
  }

  /** Most requests that were in flight at once. */
  get peakConcurrency(): number {
    return this.gate.peak;
  }

  /**
   * Pages of [start, end] (ms, both on the step grid) with at most `points` points each.
   * @example client.pages(0, 30_000, 15_000, 10) // [[0, 30_000]]
   */
  pages(startMs: number, endMs: number, stepMs: number, points = this.maxPointsPerQuery): [number, number][] {
    const out: [number, number][] = [];
    const span = (Math.min(points, this.maxPointsPerQuery) - 1) * stepMs;
    for (let s = startMs; s <= endMs; s += span + stepMs) out.push([s, Math.min(endMs, s + span)]);
    return out;
  }

  /**
   * Runs a range query page by page (a short first page, then the rest concurrently under
   * the client's bound) and hands every series of every page to `sink`.
   * @example await client.queryRange('up', start, end, 15_000, (labels, values) => …)
   */
  async queryRange(query: string, startMs: number, endMs: number, stepMs: number, sink: PageSink): Promise<void> {
    const probeEnd = Math.min(endMs, startMs + (Math.min(PROBE_POINTS, this.maxPointsPerQuery) - 1) * stepMs);
    const series = await this.page(query, startMs, probeEnd, stepMs, sink);
    if (probeEnd >= endMs) return;
    const perPage = Math.max(2, Math.floor(this.maxPointsPerResponse / Math.max(1, series)));
    await Promise.all(
      this.pages(probeEnd + stepMs, endMs, stepMs, perPage).map(([s, e]) => this.page(query, s, e, stepMs, sink)),
    );
  }

  /** One range query under the semaphore; returns how many series it answered. */
  private page(query: string, startMs: number, endMs: number, stepMs: number, sink: PageSink): Promise<number> {
    return this.gate.run(async () => {
      const data = await this.post('/api/v1/query_range', {
        query,
        start: String(startMs / 1000),
        end: String(endMs / 1000),
        step: String(stepMs / 1000),
      });
      if (!isRecord(data) || data.resultType !== 'matrix' || !Array.isArray(data.result))
        throw new LsError(
          'LS_ERR_PROMETHEUS',
          `${this.url}: query_range did not answer with a matrix (query ${query})`,
        );
      for (const r of data.result as { metric: Record<string, string>; values: [number, string][] }[])
        sink(r.metric ?? {}, r.values ?? []);
      return data.result.length;
    });
  }

  private async post(path: string, params: Record<string, string>): Promise<unknown> {
    this.requests++;
    const where = `${this.url}${path}`;
    let res: Response;
    try {
      res = await fetch(where, {
        method: 'POST',
        // No gzip: on the loopback or a cluster network compressing ~10 MB answers costs both
        // sides more CPU than it saves (a tenth of the client's time in zlib, measured).
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'accept-encoding': 'identity' },
        body: new URLSearchParams(params).toString(),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      throw new LsError('LS_ERR_PROMETHEUS', `cannot reach Prometheus at ${this.url} (${why})`, { cause: e });
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new LsError(
        'LS_ERR_PROMETHEUS',
        `${where} did not answer as Prometheus' API does (HTTP ${res.status}: ${JSON.stringify(text.slice(0, 160))})`,
      );
    }
    if (!isRecord(body) || body.status !== 'success') {
      const b = isRecord(body) ? body : {};
      const msg = `Prometheus at ${this.url} refused the query (HTTP ${res.status}, ${String(b.errorType ?? 'no error type')}: ${String(b.error ?? 'no message')}; query ${params.query})`;
      throw new LsError(b.errorType === 'bad_data' ? 'LS_ERR_INVALID_OPTION' : 'LS_ERR_PROMETHEUS', msg);
    }
    return body.data;
  }
}
