/**
 * A Chrome DevTools Protocol client for any Node.js process started with --inspect: heap
 * usage, forced GC, heap snapshots streamed to a file, and V8's sampling heap profiler —
 * so a user's own Node server can be diagnosed without changing its code.
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import WebSocket from 'ws';
import { LsError } from '../common/errors.js';

interface CdpMessage {
  id?: number;
  method?: string;
  params?: Record<string, unknown>;
  result?: Record<string, unknown>;
  error?: { message: string };
}

/** process.memoryUsage() of a Node target; a field its Node version lacks is undefined. */
export interface NodeMemoryUsage {
  readonly rss: number | undefined;
  readonly heapUsed: number;
  readonly heapTotal: number;
  readonly external: number | undefined;
  readonly arrayBuffers: number | undefined;
}

/**
 * Evaluated in the target with the console's command-line API (which gives a Node target
 * `require`): the used bytes of V8's old generation, every heap space but `new_space` and
 * `new_large_object_space`. One constant source, so V8 compiles it once (its eval cache).
 */
const OLD_GENERATION_EXPRESSION = `(() => {
  if (typeof require !== 'function') return null;
  let used = 0;
  for (const s of require('v8').getHeapSpaceStatistics())
    if (s.space_name !== 'new_space' && s.space_name !== 'new_large_object_space') used += s.space_used_size;
  return used;
})()`;

export class InspectorClient {
  private seq = 0;
  private readonly pending = new Map<
    number,
    { resolve: (r: Record<string, unknown>) => void; reject: (e: Error) => void }
  >();
  private readonly listeners = new Map<string, Set<(p: Record<string, unknown>) => void>>();

  private constructor(
    private readonly ws: WebSocket,
    readonly address: string,
  ) {
    ws.on('message', (data) => {
      const msg = JSON.parse(String(data)) as CdpMessage;
      if (msg.id !== undefined) {
        const p = this.pending.get(msg.id);
        this.pending.delete(msg.id);
        if (!p) return;
        if (msg.error) p.reject(new LsError('LS_ERR_TARGET', `inspector ${address}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      } else if (msg.method) {
        for (const l of this.listeners.get(msg.method) ?? []) l(msg.params ?? {});
      }
    });
    ws.on('close', () => {
      for (const p of this.pending.values())
        p.reject(new LsError('LS_ERR_TARGET', `inspector ${address}: the connection closed (did the process exit?)`));
      this.pending.clear();
    });
  }

  /**
   * Connects to the first inspector target at host:port (the address --inspect printed).
   * @example const c = await InspectorClient.connect('127.0.0.1:9229'); await c.heapUsage();
   */
  static async connect(address: string): Promise<InspectorClient> {
    if (!/^[\w.-]+:\d+$/.test(address) && !/^\[[\d:a-f]+\]:\d+$/i.test(address))
      throw new LsError('LS_ERR_INVALID_OPTION', `--inspect: expected host:port, got '${address}'`);
    let list: Array<{ webSocketDebuggerUrl?: string }>;
    try {
      const r = await fetch(`http://${address}/json/list`, { signal: AbortSignal.timeout(5000) });
      list = (await r.json()) as Array<{ webSocketDebuggerUrl?: string }>;
    } catch (e) {
      throw new LsError(
        'LS_ERR_TARGET',
        `--inspect ${address}: no Node.js inspector answers there (${(e as Error).message}); start the process with --inspect=${address}`,
      );
    }
    const url = list.find((t) => t.webSocketDebuggerUrl)?.webSocketDebuggerUrl;
    if (!url)
      throw new LsError(
        'LS_ERR_TARGET',
        `--inspect ${address}: the inspector lists no debuggable target (is another debugger attached?)`,
      );
    const ws = new WebSocket(url, { maxPayload: 1 << 30, perMessageDeflate: false });
    try {
      await Promise.race([once(ws, 'open'), once(ws, 'error').then(([e]) => Promise.reject(e))]);
    } catch (e) {
      throw new LsError('LS_ERR_TARGET', `--inspect ${address}: cannot open ${url}: ${(e as Error).message}`);
    }
    return new InspectorClient(ws, address);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    if (this.ws.readyState !== WebSocket.OPEN)
      return Promise.reject(new LsError('LS_ERR_TARGET', `inspector ${this.address}: not connected`));
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  on(event: string, fn: (p: Record<string, unknown>) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(fn);
    return () => set!.delete(fn);
  }

  async pid(): Promise<number> {
    const r = await this.send('Runtime.evaluate', { expression: 'process.pid', returnByValue: true });
    return Number((r.result as { value?: unknown })?.value);
  }

  /**
   * `process.memoryUsage()` evaluated inside a Node target: RSS, V8 heap, external and
   * ArrayBuffer memory (off-heap Buffers show only here). Null when the target has no
   * `process` (a browser or a non-Node runtime); heapUsage() still works there.
   */
  async memoryUsage(): Promise<NodeMemoryUsage | null> {
    const r = await this.send('Runtime.evaluate', {
      expression:
        "typeof process === 'object' && typeof process.memoryUsage === 'function' ? process.memoryUsage() : null",
      returnByValue: true,
      silent: true,
    });
    if (r.exceptionDetails) return null;
    const v = (r.result as { value?: unknown } | undefined)?.value;
    if (!v || typeof v !== 'object') return null;
    const m = v as Record<string, unknown>;
    const num = (k: string) => (typeof m[k] === 'number' && Number.isFinite(m[k]) ? (m[k] as number) : undefined);
    const [rss, heapUsed, heapTotal, external, arrayBuffers] = [
      num('rss'),
      num('heapUsed'),
      num('heapTotal'),
      num('external'),
      num('arrayBuffers'),
    ];
    if (heapUsed === undefined || heapTotal === undefined) return null;
    return { rss, heapUsed, heapTotal, external, arrayBuffers };
  }

  private workerWatch: Promise<boolean> | undefined;
  private readonly liveWorkers = new Map<string, string>();
  private workersExited = 0;

  /**
   * The target's worker threads, through the NodeWorker domain: alive now by script file
   * name, and how many exited since the first call. Null when the target has no such
   * domain. Workers that start and exit between two samples before the inspector attaches
   * to them are not seen (the OS thread count still is).
   */
  async workers(): Promise<{ live: number; byScript: Record<string, number>; exited: number } | null> {
    this.workerWatch ??= (async () => {
      this.on('NodeWorker.attachedToWorker', (p) => {
        const w = p.workerInfo as { url?: string; title?: string } | undefined;
        const url = w?.url ?? '';
        this.liveWorkers.set(String(p.sessionId), url ? url.slice(url.lastIndexOf('/') + 1) : 'eval');
      });
      this.on('NodeWorker.detachedFromWorker', (p) => {
        if (this.liveWorkers.delete(String(p.sessionId))) this.workersExited++;
      });
      try {
        await this.send('NodeWorker.enable', { waitForDebuggerOnStart: false });
        return true;
      } catch {
        return false;
      }
    })();
    if (!(await this.workerWatch)) return null;
    const byScript: Record<string, number> = {};
    for (const script of this.liveWorkers.values()) byScript[script] = (byScript[script] ?? 0) + 1;
    return { live: this.liveWorkers.size, byScript, exited: this.workersExited };
  }

  /** V8 heap used/total of the inspected isolate. */
  async heapUsage(): Promise<{ usedSize: number; totalSize: number }> {
    const r = await this.send('Runtime.getHeapUsage');
    return { usedSize: Number(r.usedSize), totalSize: Number(r.totalSize) };
  }

  async collectGarbage(): Promise<void> {
    await this.send('HeapProfiler.collectGarbage');
  }

  /**
   * The V8 heap a forced GC leaves: a full GC, then the old generation's used bytes (every
   * space but the young ones). The read comes a round trip after the GC, and a target under
   * load serves requests meanwhile; their garbage lands in the young generation, which a
   * plain `heapUsed` would count (measured on a corpus program at 200 requests/s: a residual
   * spread of ~170 KiB, against ~30 KiB for the old generation). Undefined when the target
   * cannot say (no `process`, or the console's `require` is missing); heapUsed then serves.
   */
  async settledHeap(): Promise<number | undefined> {
    await this.collectGarbage();
    const r = await this.send('Runtime.evaluate', {
      expression: OLD_GENERATION_EXPRESSION,
      includeCommandLineAPI: true,
      returnByValue: true,
      silent: true,
    });
    const v = r.exceptionDetails ? undefined : (r.result as { value?: unknown } | undefined)?.value;
    return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
  }

  /** Streams a heap snapshot of the inspected isolate into `file`. */
  async takeHeapSnapshot(file: string): Promise<{ bytes: number; ms: number }> {
    const t0 = performance.now();
    const out = createWriteStream(file, { flags: 'wx' });
    let bytes = 0;
    let failed: Error | undefined;
    out.on('error', (e) => (failed = e));
    const off = this.on('HeapProfiler.addHeapSnapshotChunk', (p) => {
      const chunk = String(p.chunk);
      bytes += Buffer.byteLength(chunk);
      out.write(chunk);
    });
    try {
      await this.send('HeapProfiler.takeHeapSnapshot', { reportProgress: false, captureNumericValue: false });
    } finally {
      off();
      out.end();
      await once(out, 'close');
    }
    if (failed) throw new LsError('LS_ERR_TARGET', `cannot write heap snapshot ${file}: ${failed.message}`);
    return { bytes, ms: Math.round(performance.now() - t0) };
  }

  async startSampling(intervalBytes = 32768): Promise<void> {
    await this.send('HeapProfiler.enable');
    await this.send('HeapProfiler.startSampling', { samplingInterval: intervalBytes });
  }

  /** Stops the sampling heap profiler; the profile is what DevTools opens as .heapprofile. */
  async stopSampling(): Promise<unknown> {
    const r = await this.send('HeapProfiler.stopSampling');
    return r.profile;
  }

  close(): void {
    this.ws.close();
  }
}
