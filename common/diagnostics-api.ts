/**
 * The diagnostics API (`leakscope serve --diagnostics`): the one list of its routes, the
 * request and response of each, and a small typed client. The server's handler table
 * (`server/diagnostics.ts`) is typed by this module and the scenarios call it through
 * `DiagnosticsClient`, so neither side redeclares a reply's shape.
 *
 * Wire rules: every route answers JSON; a failure answers `{ "error": "…" }` with the
 * HTTP status of its LS_ERR_* code. Arguments travel in the query string (path
 * parameters are written `:name`); bodies are not read.
 */
import type { HeapInfo } from 'node:v8';
import { LsError } from './errors.js';
import type { ProcStats } from './proc.js';

/** The only address the diagnostics listener binds, whatever the server's --host. */
export const DIAGNOSTICS_HOST = '127.0.0.1';

/** Every diagnostics path starts with this. */
export const DIAGNOSTICS_PREFIX = '/diagnostics';

/** The executor cache's lookup counters (one model session). */
export interface CacheCounters {
  lookups: number;
  unsortedHits: number;
  sortedHits: number;
  misses: number;
}

/** The handler-thread pool's counters. */
export interface ThreadStats {
  /** Threads alive now (including ones on their way out). */
  current: number;
  idle: number;
  peak: number;
  created: number;
  exited: number;
  cap: number | null;
  /** Requests waiting in the completion queue for a polling thread. */
  queued: number;
  /** Threads started and not up yet: booting, or waiting for a boot slot (not in `current` until created). */
  starting: number;
}

export interface HandlerThreadInfo {
  readonly id: number;
  readonly busy: boolean;
}

export interface ThreadsReply extends ThreadStats {
  readonly threads: HandlerThreadInfo[];
}

/** `GET /diagnostics/summary`: what the samplers read every interval. */
export interface SummaryReply {
  readonly time: string;
  readonly pid: number;
  readonly uptimeSeconds: number;
  readonly memory: NodeJS.MemoryUsage;
  readonly heap: HeapInfo;
  /** The server's own /proc/<pid> facts (Linux). */
  readonly proc: ProcStats;
  readonly executorCache: ReadonlyArray<{
    readonly model: string;
    readonly version: number;
    readonly entries: number;
    readonly keyBytes: number;
    readonly counters: CacheCounters;
  }>;
  /** null when inference runs inline (no handler threads). */
  readonly handlerThreads: ThreadsReply | null;
  readonly inflight: number;
  readonly gcExposed: boolean;
  readonly allocationSampling: boolean;
  /** Where captures go and how much of the per-process quota they used. */
  readonly captures: CaptureUsage;
}

/** The diagnostics folder and the captures written into it against the quota. */
export interface CaptureUsage {
  readonly dir: string;
  readonly captures: number;
  readonly bytes: number;
  readonly maxCaptures: number;
  readonly maxCaptureBytes: number;
}

/** `POST /diagnostics/gc`. */
export interface GcReply {
  readonly ms: number;
  readonly heapUsedBefore: number;
  readonly heapUsedAfter: number;
  readonly rssBefore: number;
  readonly rssAfter: number;
}

/** What a capture wrote, in the server's diagnostics folder. */
export interface CaptureResult {
  readonly file: string;
  readonly bytes: number;
  readonly ms: number;
}

export interface HeapSnapshotReply extends CaptureResult {
  readonly isolate: 'main';
}

export interface ThreadHeapSnapshotReply extends CaptureResult {
  readonly isolate: 'handler-thread';
  readonly thread: number;
}

export interface SamplingStartReply {
  readonly sampling: true;
  readonly intervalBytes: number;
}

/** The routes: method, path under the prefix, and the query parameters each accepts. */
export const DIAGNOSTICS_ROUTES = {
  summary: { method: 'GET', path: '/summary', query: [] },
  threads: { method: 'GET', path: '/threads', query: [] },
  gc: { method: 'POST', path: '/gc', query: [] },
  heapSnapshot: { method: 'POST', path: '/heap-snapshot', query: ['label'] },
  threadHeapSnapshot: { method: 'POST', path: '/threads/:thread/heap-snapshot', query: ['label'] },
  allocationSamplingStart: { method: 'POST', path: '/allocation-sampling/start', query: ['interval'] },
  allocationSamplingStop: { method: 'POST', path: '/allocation-sampling/stop', query: ['label'] },
} as const satisfies Record<string, DiagnosticsRouteSpec>;

export interface DiagnosticsRouteSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly query: readonly string[];
}

export type DiagnosticsRoute = keyof typeof DIAGNOSTICS_ROUTES;

/** Each route's arguments (path parameters and query), as a caller gives them. */
export interface DiagnosticsRequests {
  summary: Record<never, never>;
  threads: Record<never, never>;
  gc: Record<never, never>;
  /** label: a short word for the file name (the server reduces it to [A-Za-z0-9_-], 40 characters). */
  heapSnapshot: { label?: string };
  threadHeapSnapshot: { thread: number; label?: string };
  /** interval: bytes between samples (default 32768). */
  allocationSamplingStart: { interval?: number };
  allocationSamplingStop: { label?: string };
}

/** Each route's reply. */
export interface DiagnosticsResponses {
  summary: SummaryReply;
  threads: ThreadsReply;
  gc: GcReply;
  heapSnapshot: HeapSnapshotReply;
  threadHeapSnapshot: ThreadHeapSnapshotReply;
  allocationSamplingStart: SamplingStartReply;
  /** The allocation profile (.heapprofile) written. */
  allocationSamplingStop: CaptureResult;
}

/** The reply to any failed call. */
export interface DiagnosticsErrorReply {
  readonly error: string;
}

/** A route's arguments as the server receives them: strings, null when absent. */
export type RawArgs<R extends DiagnosticsRoute> = {
  readonly [K in keyof DiagnosticsRequests[R]]-?: string | null;
};

const PARAM = /:([A-Za-z]+)/g;

/**
 * The path (under the prefix) and query string a call sends.
 * @example diagnosticsPath('threadHeapSnapshot', { thread: 3, label: 'x' }) // "/diagnostics/threads/3/heap-snapshot?label=x"
 */
export function diagnosticsPath<R extends DiagnosticsRoute>(route: R, args: DiagnosticsRequests[R]): string {
  const spec: DiagnosticsRouteSpec = DIAGNOSTICS_ROUTES[route];
  const values = args as Record<string, string | number | undefined>;
  const path = spec.path.replace(PARAM, (_, name: string) => encodeURIComponent(String(values[name])));
  const query = new URLSearchParams();
  for (const k of spec.query) if (values[k] !== undefined) query.set(k, String(values[k]));
  const qs = query.toString();
  return `${DIAGNOSTICS_PREFIX}${path}${qs ? `?${qs}` : ''}`;
}

/** A route's path as a pattern with one capture group per `:name`, and those names in order. */
export function diagnosticsPattern(route: DiagnosticsRoute): { readonly re: RegExp; readonly names: string[] } {
  const path = DIAGNOSTICS_ROUTES[route].path;
  const names = [...path.matchAll(PARAM)].map((m) => m[1]!);
  return { re: new RegExp(`^${path.replace(PARAM, '([^/]+)')}$`), names };
}

/**
 * A typed client of one server's diagnostics API. A failed call throws LS_ERR_TARGET
 * with the server's error message (or the HTTP status, or the network error).
 * @example const s = await new DiagnosticsClient('http://127.0.0.1:9100').call('summary', {});
 */
export class DiagnosticsClient {
  /** @param base `http://host:port` of the diagnostics listener. */
  constructor(
    readonly base: string,
    private readonly timeoutMs = 10_000,
  ) {}

  async call<R extends DiagnosticsRoute>(
    route: R,
    args: DiagnosticsRequests[R],
    timeoutMs = this.timeoutMs,
  ): Promise<DiagnosticsResponses[R]> {
    const { method } = DIAGNOSTICS_ROUTES[route];
    const url = `${this.base}${diagnosticsPath(route, args)}`;
    const r = await fetch(url, { method, signal: AbortSignal.timeout(timeoutMs) }).catch((e: unknown) => {
      throw new LsError('LS_ERR_TARGET', `${method} ${url}: ${(e as Error).message}`, { cause: e });
    });
    const text = await r.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new LsError('LS_ERR_TARGET', `${method} ${url}: HTTP ${r.status}, the reply is not JSON`);
    }
    if (!r.ok) {
      const error = (body as Partial<DiagnosticsErrorReply> | null)?.error;
      throw new LsError('LS_ERR_TARGET', typeof error === 'string' ? error : `${method} ${url}: HTTP ${r.status}`);
    }
    return body as DiagnosticsResponses[R];
  }
}
