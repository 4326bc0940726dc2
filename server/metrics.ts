/**
 * Prometheus metrics (prom-client) on a registry of the server's own, served at
 * /monitoring/prometheus/metrics, under the names existing dashboards and alert rules query:
 * - prom-client's standard process and Node metrics, unprefixed (`process_resident_memory_bytes`,
 *   `nodejs_heap_size_used_bytes`, …), and `process_threads`, the OS thread count (leak 2's
 *   symptom; prom-client has no thread gauge);
 * - TF Serving's own request metrics, as its Prometheus exporter names them
 *   (tensorflow_serving/util/prometheus_exporter.cc turns every character outside
 *   [a-zA-Z0-9_] of the monitoring name into ':'): `:tensorflow:serving:request_count`
 *   {model_name, status} counts each Predict by its status code name, with no `_total`
 *   suffix, and `:tensorflow:serving:request_latency` {model_name, API, entrypoint} is a
 *   histogram in microseconds over upstream's buckets, for Predicts that succeed
 *   (tensorflow_serving/servables/tensorflow/util.cc, prediction_service_impl.cc);
 * - the project's own series, prefixed `leakscope_`.
 * Gauges that mirror internal state (executor cache, handler threads, OS threads) are read at
 * scrape time from the sources given, so the hot path only touches counters.
 */
import client from 'prom-client';
import { type ErrorCode, grpcCodeName } from '../common/errors.js';
import { threadCount } from '../common/proc.js';

export interface CacheGaugeSource {
  /** Per loaded model version: executor-cache entries and UTF-8 bytes of their keys. */
  cacheStats(): Array<{ model: string; version: number; entries: number; keyBytes: number }>;
}

export interface ThreadGaugeSource {
  threadStats(): { current: number; idle: number; peak: number; created: number; exited: number; cap: number | null };
}

export type Transport = 'grpc' | 'rest';

/** One request being handled, from begin() to end(). */
export interface RequestTally {
  /**
   * The model a Predict names, set by the front end once it has read it: TF Serving's request
   * metrics are per model and count Predicts only, so a request that never names one (another
   * method, or a body that could not be read) is left out of them, as upstream.
   */
  model: string | undefined;
  /** Ends the request: `status` labels leakscope's series (gRPC code name or HTTP status), `grpcCode` TF Serving's. */
  end(status: string, grpcCode: number): void;
}

/** TF Serving's `entrypoint` label by transport (upstream's gRPC handlers say "GRPC"). */
const ENTRYPOINTS: Readonly<Record<Transport, string>> = { grpc: 'GRPC', rest: 'REST' };

/**
 * TF Serving's latency buckets: monitoring::Buckets::Exponential(10, 1.8, 33) in
 * microseconds (10 µs to about 20 minutes), written as its exporter prints a double (six
 * significant digits); the +Inf bucket is prom-client's.
 */
const TF_LATENCY_BUCKETS_US = Array.from({ length: 33 }, (_, i) => Number((10 * 1.8 ** i).toPrecision(6)));

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
  private readonly tfRequests: client.Counter<'model_name' | 'status'>;
  private readonly tfLatency: client.Histogram<'model_name' | 'API' | 'entrypoint'>;
  private inflightCount = 0;

  constructor(sources: { cache?: CacheGaugeSource; threads?: ThreadGaugeSource } = {}, collectDefault = true) {
    const registers = [this.registry];
    if (collectDefault) {
      client.collectDefaultMetrics({ register: this.registry });
      new client.Gauge({
        name: 'process_threads',
        help: 'OS threads of the process (/proc/self/status).',
        registers,
        collect() {
          const n = threadCount(process.pid);
          if (n === undefined) this.reset();
          else this.set(n);
        },
      });
    }
    this.tfRequests = new client.Counter({
      name: ':tensorflow:serving:request_count',
      help: 'The total number of requests.',
      labelNames: ['model_name', 'status'],
      registers,
    });
    this.tfLatency = new client.Histogram({
      name: ':tensorflow:serving:request_latency',
      help: 'Distribution of wall time (in microseconds) for Tensorflow Serving request.',
      labelNames: ['model_name', 'API', 'entrypoint'],
      buckets: TF_LATENCY_BUCKETS_US,
      registers,
    });
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

  /** Call when a request starts; end the tally it returns when the request ends. */
  begin(method: string, transport: Transport): RequestTally {
    const t0 = process.hrtime.bigint();
    this.inflightCount++;
    this.inflightGauge.inc({ transport });
    const tally: RequestTally = {
      model: undefined,
      end: (status, grpcCode) => {
        const ns = Number(process.hrtime.bigint() - t0);
        this.inflightCount--;
        this.inflightGauge.dec({ transport });
        this.requests.inc({ method, transport, status });
        this.latency.observe({ method, transport }, ns / 1e9);
        const model = tally.model;
        if (model === undefined || method !== 'Predict') return;
        this.tfRequests.inc({ model_name: model, status: grpcCodeName(grpcCode) });
        if (grpcCode === 0)
          this.tfLatency.observe({ model_name: model, API: method, entrypoint: ENTRYPOINTS[transport] }, ns / 1e3);
      },
    };
    return tally;
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
