/**
 * Samplers: one series at a fixed interval, each sample merged from the sources a target
 * offers — /proc/<pid> (any process), leakscope's diagnostics interface, a Prometheus
 * endpoint, or a Node inspector. A source that fails once is skipped for that sample (the
 * field stays absent) and counted; the series never stops for it.
 */
import type { DiagnosticsClient } from '../common/diagnostics-api.js';
import { readProcStats } from '../common/proc.js';
import type { Sample } from '../common/run-format.js';
import type { InspectorClient } from './inspector-client.js';

type Fields = Omit<Sample, 't' | 'phase' | 'requests'>;

export interface SampleSource {
  readonly name: string;
  collect(): Promise<Fields>;
  /**
   * Forces a GC in the target before a settled sample and reads the heap it left
   * (`heapSettledBytes`, when the source can read it without the garbage made since);
   * absent when the source cannot force one.
   */
  settle?(): Promise<Settled>;
}

/** What a forced GC left: undefined when the source cannot read it apart from later garbage. */
export interface Settled {
  readonly heapSettledBytes: number | undefined;
}

export function procSource(pid: number): SampleSource {
  return {
    name: 'proc',
    async collect() {
      const p = readProcStats(pid);
      return {
        rssBytes: p.rssBytes,
        threads: p.threads,
        threadsByName: p.threadsByName,
        ...(p.openFds !== null ? { openFds: p.openFds } : {}),
      };
    },
  };
}

/** leakscope's diagnostics interface (spawned reference servers). */
export function diagnosticsSource(
  client: DiagnosticsClient,
  withProc: boolean,
): SampleSource & { gcExposed(): Promise<boolean> } {
  return {
    name: 'diagnostics',
    async collect() {
      const s = await client.call('summary', {});
      return {
        heapUsedBytes: s.memory.heapUsed,
        heapTotalBytes: s.memory.heapTotal,
        externalBytes: s.memory.external,
        cacheEntries: s.executorCache.reduce((a, c) => a + c.entries, 0),
        cacheKeyBytes: s.executorCache.reduce((a, c) => a + c.keyBytes, 0),
        ...(s.handlerThreads ? { handlerThreads: s.handlerThreads.current } : {}),
        inflight: s.inflight,
        ...(withProc
          ? {
              rssBytes: s.memory.rss,
              threads: s.proc.threads,
              threadsByName: s.proc.threadsByName,
              ...(s.proc.openFds !== null ? { openFds: s.proc.openFds } : {}),
            }
          : {}),
      };
    },
    async settle() {
      // Read in the server's process right after its gc(): nothing runs between them.
      return { heapSettledBytes: (await client.call('gc', {})).heapUsedAfter };
    },
    async gcExposed() {
      return (await client.call('summary', {})).gcExposed;
    },
  };
}

/** Reads one metric's value (summed over label sets) from Prometheus text. */
export function promValue(text: string, names: readonly string[]): number | undefined {
  for (const name of names) {
    let sum = 0;
    let found = false;
    const re = new RegExp(`^${name.replace(/[:]/g, '\\:')}(?:\\{[^}]*\\})?\\s+([-+0-9.eE]+|NaN)`, 'gm');
    for (const m of text.matchAll(re)) {
      const v = Number(m[1]);
      if (Number.isFinite(v)) {
        sum += v;
        found = true;
      }
    }
    if (found) return sum;
  }
  return undefined;
}

/** Any Prometheus endpoint: the well-known process and Node metrics, and leakscope's own. */
export function prometheusSource(url: string, withRss: boolean): SampleSource {
  return {
    name: 'prometheus',
    async collect() {
      const r = await fetch(url, { signal: AbortSignal.timeout(10_000) });
      if (!r.ok) throw new Error(`HTTP ${r.status}`);
      const text = await r.text();
      const f: Record<string, number> = {};
      const put = (k: string, names: string[]) => {
        const v = promValue(text, names);
        if (v !== undefined) f[k] = v;
      };
      if (withRss) put('rssBytes', ['process_resident_memory_bytes']);
      put('heapUsedBytes', ['nodejs_heap_size_used_bytes']);
      put('heapTotalBytes', ['nodejs_heap_size_total_bytes']);
      put('externalBytes', ['nodejs_external_memory_bytes']);
      put('openFds', ['process_open_fds']);
      put('cacheEntries', ['leakscope_executor_cache_entries']);
      put('cacheKeyBytes', ['leakscope_executor_cache_key_bytes']);
      put('handlerThreads', ['leakscope_handler_threads']);
      put('inflight', ['leakscope_inflight_requests']);
      return f as Fields;
    },
  };
}

/**
 * A Node process's inspector: every memory kind `process.memoryUsage()` reports, read
 * inside the target (RSS too when /proc does not give it, `withRss`), its worker threads
 * by script (NodeWorker domain), and forced GC. A target without `process` gives V8 heap
 * usage only.
 */
export function inspectorSource(c: InspectorClient, withRss = true): SampleSource {
  let nodeTarget = true;
  return {
    name: 'inspector',
    async collect() {
      const m = nodeTarget ? await c.memoryUsage() : null;
      if (!m) {
        nodeTarget = false;
        const h = await c.heapUsage();
        return { heapUsedBytes: h.usedSize, heapTotalBytes: h.totalSize };
      }
      const w = await c.workers();
      return {
        ...(w ? { workers: w.live, workersByScript: w.byScript, workersExited: w.exited } : {}),
        heapUsedBytes: m.heapUsed,
        heapTotalBytes: m.heapTotal,
        ...(m.external !== undefined ? { externalBytes: m.external } : {}),
        ...(m.arrayBuffers !== undefined ? { arrayBuffersBytes: m.arrayBuffers } : {}),
        ...(withRss && m.rss !== undefined ? { rssBytes: m.rss } : {}),
      };
    },
    settle: async () => ({ heapSettledBytes: await c.settledHeap() }),
  };
}

export interface SamplerOptions {
  readonly sources: readonly SampleSource[];
  readonly intervalMs: number;
  /** Force a GC before every Nth sample (0: never). */
  readonly gcSettledEvery: number;
  /** ms since the run started. */
  readonly now: () => number;
  readonly phase: () => string;
  readonly requests: () => number;
  readonly onSample: (s: Sample) => void;
}

/** Collects samples until stop(); never overlaps two collections. */
export class Sampler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private n = 0;
  readonly failures: Record<string, number> = {};
  readonly lastErrors: Record<string, string> = {};

  constructor(private readonly o: SamplerOptions) {}

  start(): void {
    const tick = () => {
      if (this.stopped) return;
      const started = this.o.now();
      this.running = this.sampleOnce().finally(() => {
        this.running = undefined;
        if (this.stopped) return;
        const wait = Math.max(0, this.o.intervalMs - (this.o.now() - started));
        this.timer = setTimeout(tick, wait);
      });
    };
    tick();
  }

  /** Takes one sample now (also used at phase boundaries). */
  async sampleOnce(): Promise<void> {
    const settle = this.o.gcSettledEvery > 0 && this.n % this.o.gcSettledEvery === 0;
    this.n++;
    let settled: Settled | undefined;
    if (settle) {
      const gcSource = this.o.sources.find((s) => s.settle);
      if (gcSource) {
        try {
          settled = await gcSource.settle!();
        } catch (e) {
          this.fail(`${gcSource.name}.gc`, e);
        }
      }
    }
    const t = this.o.now();
    const phase = this.o.phase();
    const requests = this.o.requests();
    const parts = await Promise.all(
      this.o.sources.map(async (s) => {
        try {
          return await s.collect();
        } catch (e) {
          this.fail(s.name, e);
          return {};
        }
      }),
    );
    this.o.onSample(
      Object.assign(
        { t: Math.round(t), phase, requests },
        ...parts,
        settled ? { gcSettled: true } : {},
        settled?.heapSettledBytes !== undefined ? { heapSettledBytes: settled.heapSettledBytes } : {},
      ) as Sample,
    );
  }

  private fail(name: string, e: unknown): void {
    this.failures[name] = (this.failures[name] ?? 0) + 1;
    this.lastErrors[name] = (e as Error)?.message ?? String(e);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
