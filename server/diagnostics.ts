/**
 * The diagnostics interface (`--diagnostics`): a separate HTTP listener, always on
 * 127.0.0.1 whatever --host says, answering JSON. A summary for samplers (memory, V8
 * heap, threads and fds from /proc, executor caches, handler threads, in-flight
 * requests), forced GC (with --expose-gc), heap snapshots of the main isolate or of one
 * handler thread, and V8 allocation sampling. Files go only into the diagnostics folder
 * under generated names: a request may add a short label, never choose a path.
 * A browser must not reach it: only the Host values of the loopback address and port it
 * listens on are served (DNS rebinding gives a page another name for 127.0.0.1), and
 * cross-origin requests (`Origin`, `Sec-Fetch-Site`) are refused. The folder, its modes
 * and the capture quota are diagnostics-folder.ts's.
 */
import { createWriteStream } from 'node:fs';
import { stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { Session } from 'node:inspector/promises';
import type { AddressInfo } from 'node:net';
import { basename, dirname, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import v8 from 'node:v8';
import type { Logger } from 'pino';
import {
  type CaptureResult,
  DIAGNOSTICS_HOST,
  DIAGNOSTICS_PREFIX,
  DIAGNOSTICS_ROUTES,
  type DiagnosticsResponses,
  type DiagnosticsRoute,
  diagnosticsPattern,
  type RawArgs,
} from '../common/diagnostics-api.js';
import { LsError, toLsError } from '../common/errors.js';
import { readProcStats } from '../common/proc.js';
import { CAPTURE_FILE_MODE, CaptureFolder, type CaptureLimits } from './diagnostics-folder.js';
import type { HandlerThreadRunner } from './handler-threads.js';
import type { ServerMetrics } from './metrics.js';
import type { Predictor } from './predict.js';

export interface DiagnosticsDeps {
  readonly port: number;
  /** Folder every file is written into; undefined: a private folder made per server. */
  readonly dir: string | undefined;
  readonly captureLimits?: CaptureLimits;
  readonly predictor: Predictor;
  readonly metrics: ServerMetrics;
  /** undefined when inference runs inline (no handler threads). */
  readonly threads: Pick<HandlerThreadRunner, 'threadStats' | 'listThreads' | 'heapSnapshot'> | undefined;
  readonly log: Logger;
}

export interface DiagnosticsServer {
  readonly port: number;
  close(): Promise<void>;
}

const LABEL_MAX = 40;

/**
 * A request's label reduced to [A-Za-z0-9_-], at most 40 characters: it becomes part of
 * a generated file name, so separators, dots and anything else cannot form a path.
 */
export function sanitizeLabel(label: string | null): string {
  if (label === null) return '';
  return label
    .replace(/[^A-Za-z0-9_-]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, LABEL_MAX);
}

const notFound = (m: string) => new LsError('LS_ERR_ROUTE_NOT_FOUND', m);
const badRequest = (m: string) => new LsError('LS_ERR_INVALID_REQUEST', m);
const precondition = (m: string) => new LsError('LS_ERR_DIAGNOSTICS', m);

/** What the handlers share: the dependencies, the folder, and the one-capture-at-a-time state. */
class DiagnosticsContext {
  readonly dir: string;
  readonly folder: CaptureFolder;
  private seq = 0;
  private capturing = false;
  /** The running allocation sampler, if any. */
  sampler: Session | undefined;

  constructor(readonly deps: DiagnosticsDeps) {
    this.folder = CaptureFolder.open(deps.dir, deps.captureLimits);
    this.dir = this.folder.dir;
  }

  /** A fresh file name in `dir`; the resolved path is checked to stay there. */
  fileFor(kind: string, label: string, ext: string): string {
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    const name = `${kind}${label ? `-${label}` : ''}-${stamp}-${process.pid}-${++this.seq}${ext}`;
    const path = resolve(this.dir, name);
    if (dirname(path) !== this.dir || basename(path) !== name)
      throw badRequest('refused: the file name would leave the diagnostics folder');
    return path;
  }

  /** Runs one capture at a time: two heap snapshots at once would double the memory spike. */
  async exclusive<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.capturing) throw precondition(`another capture is running; retry the ${what} when it ends`);
    this.capturing = true;
    try {
      return await fn();
    } finally {
      this.capturing = false;
    }
  }

  writeSnapshot(kind: string, label: string, open: () => Promise<Readable>): Promise<CaptureResult> {
    return this.exclusive('heap snapshot', async () => {
      // A snapshot file is about the size of the heap it describes (the main heap bounds a thread's).
      this.folder.beforeCapture(process.memoryUsage().heapUsed);
      const file = this.fileFor(kind, label, '.heapsnapshot');
      const t0 = performance.now();
      // 'wx' is O_CREAT|O_EXCL: never an existing file, never through a planted link.
      await pipeline(await open(), createWriteStream(file, { flags: 'wx', mode: CAPTURE_FILE_MODE }));
      const ms = Math.round(performance.now() - t0);
      const { size } = await stat(file);
      this.folder.written(size);
      this.deps.log.info({ file, bytes: size, ms }, 'heap snapshot written');
      return { file, bytes: size, ms };
    });
  }

  threadsOrFail(): NonNullable<DiagnosticsDeps['threads']> {
    if (!this.deps.threads) throw precondition('this server runs inference inline: it has no handler threads');
    return this.deps.threads;
  }

  threadId(raw: string): number {
    const id = Number(raw);
    if (!/^\d{1,9}$/.test(raw) || !Number.isSafeInteger(id))
      throw badRequest(`'${raw}' is not a thread id (GET ${DIAGNOSTICS_PREFIX}/threads lists them)`);
    const ids = this.threadsOrFail()
      .listThreads()
      .map((t) => t.id);
    if (!ids.includes(id))
      throw notFound(`no handler thread ${id} (threads now: ${ids.length ? ids.join(', ') : 'none'})`);
    return id;
  }
}

type RouteHandler<R extends DiagnosticsRoute> = (
  c: DiagnosticsContext,
  args: RawArgs<R>,
) => Promise<DiagnosticsResponses[R]>;

const summary: RouteHandler<'summary'> = async ({ deps, sampler, folder }) => ({
  time: new Date().toISOString(),
  pid: process.pid,
  uptimeSeconds: process.uptime(),
  memory: process.memoryUsage(),
  heap: v8.getHeapStatistics(),
  proc: readProcStats(process.pid),
  executorCache: [...deps.predictor.modelSessions()].map(([s, ms]) => ({
    model: s.model,
    version: s.version,
    entries: ms.store.size,
    keyBytes: ms.store.keyBytes,
    counters: { ...ms.counters },
  })),
  handlerThreads: deps.threads ? { ...deps.threads.threadStats(), threads: deps.threads.listThreads() } : null,
  inflight: deps.metrics.inflight,
  gcExposed: typeof (globalThis as { gc?: unknown }).gc === 'function',
  allocationSampling: sampler !== undefined,
  captures: folder.usage(),
});

const threads: RouteHandler<'threads'> = async (c) => {
  const t = c.threadsOrFail();
  return { ...t.threadStats(), threads: t.listThreads() };
};

const gc: RouteHandler<'gc'> = async () => {
  const gcFn = (globalThis as { gc?: () => void }).gc;
  if (typeof gcFn !== 'function')
    throw precondition(
      'forced GC needs the server started with node --expose-gc (e.g. node --expose-gc bin/leakscope.js serve --diagnostics ...)',
    );
  const before = process.memoryUsage();
  const t0 = performance.now();
  gcFn();
  const ms = Math.round((performance.now() - t0) * 10) / 10;
  const after = process.memoryUsage();
  return {
    ms,
    heapUsedBefore: before.heapUsed,
    heapUsedAfter: after.heapUsed,
    rssBefore: before.rss,
    rssAfter: after.rss,
  };
};

const heapSnapshot: RouteHandler<'heapSnapshot'> = async (c, { label }) => ({
  isolate: 'main',
  ...(await c.writeSnapshot('main', sanitizeLabel(label), async () => v8.getHeapSnapshot())),
});

const threadHeapSnapshot: RouteHandler<'threadHeapSnapshot'> = async (c, { thread, label }) => {
  const id = c.threadId(thread ?? '');
  const t = c.threadsOrFail();
  return {
    isolate: 'handler-thread',
    thread: id,
    ...(await c.writeSnapshot(`thread-${id}`, sanitizeLabel(label), () => t.heapSnapshot(id))),
  };
};

const allocationSamplingStart: RouteHandler<'allocationSamplingStart'> = async (c, { interval: raw }) => {
  if (c.sampler) throw precondition('allocation sampling is already running; stop it first');
  const interval = raw === null ? 32768 : Number(raw);
  if (!Number.isInteger(interval) || interval < 1 || interval > 1 << 30)
    throw badRequest(`interval: expected bytes between samples, an integer from 1 to ${1 << 30}, got '${raw}'`);
  const s = new Session();
  s.connect();
  try {
    await s.post('HeapProfiler.enable');
    await s.post('HeapProfiler.startSampling', { samplingInterval: interval });
  } catch (e) {
    s.disconnect();
    throw e;
  }
  c.sampler = s;
  return { sampling: true, intervalBytes: interval };
};

const allocationSamplingStop: RouteHandler<'allocationSamplingStop'> = async (c, args) => {
  const s = c.sampler;
  if (!s)
    throw precondition(
      `allocation sampling is not running (POST ${DIAGNOSTICS_PREFIX}/allocation-sampling/start first)`,
    );
  c.sampler = undefined;
  const label = sanitizeLabel(args.label);
  return c.exclusive('allocation profile', async () => {
    const t0 = performance.now();
    try {
      const { profile } = await s.post('HeapProfiler.stopSampling');
      const text = JSON.stringify(profile);
      c.folder.beforeCapture(Buffer.byteLength(text));
      const file = c.fileFor('allocations', label, '.heapprofile');
      await writeFile(file, text, { flag: 'wx', mode: CAPTURE_FILE_MODE });
      c.folder.written(Buffer.byteLength(text));
      return { file, bytes: Buffer.byteLength(text), ms: Math.round(performance.now() - t0) };
    } finally {
      s.disconnect();
    }
  });
};

/** The one list of handlers: one per route of the diagnostics API, typed by its reply. */
const HANDLERS: { readonly [R in DiagnosticsRoute]: RouteHandler<R> } = {
  summary,
  threads,
  gc,
  heapSnapshot,
  threadHeapSnapshot,
  allocationSamplingStart,
  allocationSamplingStop,
};

interface Route {
  readonly name: DiagnosticsRoute;
  readonly method: string;
  readonly pattern: RegExp;
  /** Path parameter names, in the pattern's capture order. */
  readonly names: readonly string[];
  /** Query parameters this endpoint reads; any other is refused (no `path=` sneaks in). */
  readonly query: readonly string[];
}

const ROUTES: readonly Route[] = (Object.keys(DIAGNOSTICS_ROUTES) as DiagnosticsRoute[]).map((name) => {
  const { re, names } = diagnosticsPattern(name);
  const { method, query } = DIAGNOSTICS_ROUTES[name];
  return { name, method, pattern: re, names, query };
});

/** Finds the route for a request, checks its query, and runs its handler. */
async function dispatch(
  c: DiagnosticsContext,
  method: string | undefined,
  rawUrl: string | undefined,
): Promise<unknown> {
  const url = new URL(rawUrl ?? '/', 'http://localhost');
  if (!url.pathname.startsWith(`${DIAGNOSTICS_PREFIX}/`))
    throw notFound(`no such endpoint: ${url.pathname} (endpoints are under ${DIAGNOSTICS_PREFIX}/)`);
  const sub = url.pathname.slice(DIAGNOSTICS_PREFIX.length);
  const matching = ROUTES.map((r) => [r, r.pattern.exec(sub)] as const).filter(([, m]) => m !== null);
  if (matching.length === 0) throw notFound(`no such endpoint: ${url.pathname}`);
  const hit = matching.find(([r]) => r.method === method);
  if (!hit) {
    throw new LsError(
      'LS_ERR_METHOD_NOT_ALLOWED',
      `${url.pathname} takes ${matching.map(([r]) => r.method).join(' or ')}, not ${method}`,
    );
  }
  const [route, m] = hit;
  for (const k of url.searchParams.keys()) {
    if (!route.query.includes(k)) {
      throw badRequest(
        `unknown parameter '${k}'${route.query.length ? ` (accepted: ${route.query.join(', ')})` : ''}; files are always written into the diagnostics folder under generated names`,
      );
    }
  }
  const args: Record<string, string | null> = {};
  for (const k of route.query) args[k] = url.searchParams.get(k);
  route.names.forEach((k, i) => {
    args[k] = m![i + 1]!;
  });
  const handler = HANDLERS[route.name] as (c: DiagnosticsContext, a: Record<string, string | null>) => Promise<unknown>;
  return handler(c, args);
}

/** Starts the diagnostics listener on 127.0.0.1; resolves once bound. */
export async function startDiagnostics(deps: DiagnosticsDeps): Promise<DiagnosticsServer> {
  const c = new DiagnosticsContext(deps);
  const dir = c.dir;
  let port = 0;
  const server: Server = createServer((req, res: ServerResponse) => {
    req.resume(); // bodies are not read: every endpoint takes its few arguments in the query
    Promise.resolve()
      .then(() => {
        checkCaller(req, port);
        return dispatch(c, req.method, req.url);
      })
      .then(
        (body) => send(res, 200, body),
        (e: unknown) => {
          const err = toLsError(e);
          if (err.code === 'LS_ERR_INTERNAL') deps.log.error({ err: e, url: req.url }, 'diagnostics request failed');
          send(res, err.httpStatus, { error: err.message });
        },
      );
  });
  port = await new Promise<number>((ok, fail) => {
    const onError = (e: Error) =>
      fail(
        new LsError(
          'LS_ERR_INVALID_OPTION',
          `--diagnostics-port ${deps.port}: cannot listen on ${DIAGNOSTICS_HOST}:${deps.port}: ${e.message}`,
        ),
      );
    server.once('error', onError);
    server.listen(deps.port, DIAGNOSTICS_HOST, () => {
      server.off('error', onError);
      ok((server.address() as AddressInfo).port);
    });
  });
  deps.log.info(
    { diagnostics: `http://${DIAGNOSTICS_HOST}:${port}${DIAGNOSTICS_PREFIX}/summary`, dir },
    'diagnostics interface up (loopback only)',
  );

  return {
    port,
    async close() {
      const s = c.sampler;
      c.sampler = undefined;
      if (s) {
        await s.post('HeapProfiler.stopSampling').catch(() => undefined);
        s.disconnect();
      }
      await new Promise<void>((ok) => {
        server.close(() => ok());
        server.closeAllConnections();
      });
      c.folder.removeIfEmptyPrivate();
    },
  };
}

/**
 * Serves only callers that name this listener as 127.0.0.1:PORT or localhost:PORT and
 * are not cross-origin browser requests: a DNS-rebound page sends its own host name, and
 * a browser marks other sites' requests with Origin and Sec-Fetch-Site.
 */
export function checkCaller(req: Pick<IncomingMessage, 'headers'>, port: number): void {
  const allowed = [`${DIAGNOSTICS_HOST}:${port}`, `localhost:${port}`];
  const host = req.headers.host;
  if (host === undefined || !allowed.includes(host.toLowerCase()))
    throw new LsError(
      'LS_ERR_FORBIDDEN',
      `refused: Host '${host ?? ''}' is not this diagnostics listener (${allowed.join(' or ')}); DNS-rebinding defence`,
    );
  const origin = req.headers.origin;
  if (origin !== undefined && !allowed.some((a) => origin.toLowerCase() === `http://${a}`))
    throw new LsError('LS_ERR_FORBIDDEN', `refused: cross-origin request from '${origin}'`);
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new LsError('LS_ERR_FORBIDDEN', `refused: a browser request from another site (Sec-Fetch-Site: ${site})`);
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
