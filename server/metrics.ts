/**
 * Prometheus metrics (prom-client) on a registry of the server's own, served at
 * /monitoring/prometheus/metrics. Gauges that mirror internal state (executor cache,
 * handler threads) are read at scrape time from the sources given, so the hot path only
 * touches counters.
 */
import client from 'prom-client';
import type { ErrorCode } from '../common/errors.js';

export interface CacheGaugeSource {
  /** Per loaded model version: executor-cache entries and UTF-8 bytes of their keys. */
  cacheStats(): Array<{ model: string; version: number; entries: number; keyBytes: number }>;
}

export interface ThreadGaugeSource {
  threadStats(): { current: number; idle: number; peak: number; created: number; exited: number; cap: number | null };
}

export type Transport = 'grpc' | 'rest';

/** The refusals counted in leakscope_rejected_requests_total: error code → `reason` label. */
const REJECTION_REASONS: Readonly<Partial<Record<ErrorCode, string>>> = {
  LS_ERR_THREADS_EXHAUSTED: 'thread-cap',
  LS_ERR_BUDGET_EXHAUSTED: 'request-budget',
};

export class ServerMetrics {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'method' | 'transport' | 'status'>;
  private readonly latency: client.Histogram<'method' | 'transport'>;
  private readonly inflightGauge: client.Gauge<'transport'>;
  private readonly rejected: client.Counter<'transport' | 'reason'>;
  private inflightCount = 0;

  constructor(sources: { cache?: CacheGaugeSource; threads?: ThreadGaugeSource } = {}, collectDefault = true) {
    const registers = [this.registry];
    if (collectDefault) client.collectDefaultMetrics({ register: this.registry, prefix: 'leakscope_' });
    this.requests = new client.Counter({
      name: 'leakscope_requests_total',
      help: 'Requests answered, by method, transport and status (gRPC code name or HTTP status).',
      labelNames: ['method', 'transport', 'status'],
      registers,
    });
    this.latency = new client.Histogram({
      name: 'leakscope_request_duration_seconds',
      help: 'Server-side request latency.',
      labelNames: ['method', 'transport'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.inflightGauge = new client.Gauge({
      name: 'leakscope_inflight_requests',
      help: 'Requests being handled now.',
      labelNames: ['transport'],
      registers,
    });
    this.rejected = new client.Counter({
      name: 'leakscope_rejected_requests_total',
      help: 'Requests refused before running (thread cap reached, shutting down).',
      labelNames: ['transport', 'reason'],
      registers,
    });
    const cache = sources.cache;
    if (cache) {
      new client.Gauge({
        name: 'leakscope_executor_cache_entries',
        help: 'Keys in the executor cache of each loaded model version.',
        labelNames: ['model', 'version'],
        registers,
        collect() {
          this.reset();
          for (const s of cache.cacheStats()) this.set({ model: s.model, version: String(s.version) }, s.entries);
        },
      });
      new client.Gauge({
        name: 'leakscope_executor_cache_key_bytes',
        help: 'UTF-8 bytes of all executor-cache keys of each loaded model version.',
        labelNames: ['model', 'version'],
        registers,
        collect() {
          this.reset();
          for (const s of cache.cacheStats()) this.set({ model: s.model, version: String(s.version) }, s.keyBytes);
        },
      });
    }
    const threads = sources.threads;
    if (threads) {
      const g = (name: string, help: string, pick: (t: ReturnType<ThreadGaugeSource['threadStats']>) => number) =>
        new client.Gauge({
          name,
          help,
          registers,
          collect() {
            this.set(pick(threads.threadStats()));
          },
        });
      g('leakscope_handler_threads', 'Handler threads alive now.', (t) => t.current);
      g('leakscope_handler_threads_idle', 'Handler threads waiting for work.', (t) => t.idle);
      g('leakscope_handler_threads_peak', 'Most handler threads alive at once.', (t) => t.peak);
      g('leakscope_handler_threads_created', 'Handler threads started since start-up.', (t) => t.created);
      g('leakscope_handler_threads_cap', 'Handler thread cap (-1 when uncapped).', (t) => t.cap ?? -1);
    }
  }

  /** Call when a request starts; returns the function to call when it ends. */
  begin(method: string, transport: Transport): (status: string) => void {
    const t0 = process.hrtime.bigint();
    this.inflightCount++;
    this.inflightGauge.inc({ transport });
    return (status) => {
      this.inflightCount--;
      this.inflightGauge.dec({ transport });
      this.requests.inc({ method, transport, status });
      this.latency.observe({ method, transport }, Number(process.hrtime.bigint() - t0) / 1e9);
    };
  }

  /** Counts a failed request as rejected when its error is one of the refusals (REJECTION_REASONS). */
  countRefusal(transport: Transport, code: ErrorCode): void {
    const reason = REJECTION_REASONS[code];
    if (reason !== undefined) this.rejected.inc({ transport, reason });
  }

  get inflight(): number {
    return this.inflightCount;
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }
}
