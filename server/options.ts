/**
 * The reference server's options, validated once at the boundary (messages name the
 * option, TF Serving's flag names where TF Serving has the flag) and then frozen.
 */
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import { resolveFixes, type FixSet } from './fixes.js';
import { DEFAULT_POLICY, readModelConfigFile, type ModelSource } from './model-config.js';

export interface ServerOptions {
  readonly host: string;
  /** gRPC port (--port); 0 picks a free port. */
  readonly grpcPort: number;
  /** REST port (--rest_api_port); 0 picks a free port. */
  readonly restPort: number;
  /** undefined: the built-in CTR model, built into the cache folder on first start. */
  readonly models: readonly ModelSource[] | undefined;
  readonly pollWaitSeconds: number;
  readonly fixes: FixSet;
  /** Handler thread cap when the thread-cap fix is on (--grpc_max_threads). */
  readonly grpcMaxThreads: number;
  /** Extra service time per Predict, standing in for slow or stalled requests. */
  readonly modelDelayMs: number;
  readonly maxMessageBytes: number;
  /** LRU bound when the bounded-cache fix is on. */
  readonly executorCacheSize: number;
  /** Idle handler threads kept (gRPC's min pollers); threads beyond it exit after their request. */
  readonly minIdleThreads: number;
  /** How long a thread beyond minIdleThreads may wait for work before it exits (0: at once, as upstream). */
  readonly idleThreadGraceMs: number;
  readonly diagnostics: boolean;
  /** Diagnostics listener port (always on 127.0.0.1); 0 picks a free port. */
  readonly diagnosticsPort: number;
  readonly diagnosticsDir: string;
  readonly logLevel: string;
}

export interface RawServerOptions {
  host?: string;
  port?: string | number;
  rest_api_port?: string | number;
  model_name?: string;
  model_base_path?: string;
  model_config_file?: string;
  file_system_poll_wait_seconds?: string | number;
  mode?: string;
  fixes?: string;
  grpc_max_threads?: string | number;
  model_delay_ms?: string | number;
  max_message_bytes?: string | number;
  executor_cache_size?: string | number;
  min_idle_threads?: string | number;
  idle_thread_grace_ms?: string | number;
  diagnostics?: boolean;
  diagnostics_port?: string | number;
  diagnostics_dir?: string;
  log_level?: string;
}

const opt = (name: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `--${name}: ${msg}`);

function num(
  v: string | number | undefined,
  name: string,
  dflt: number,
  min: number,
  max = Number.MAX_SAFE_INTEGER,
  integer = true,
): number {
  if (v === undefined || v === '') return dflt;
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min || n > max) {
    throw opt(name, `expected ${integer ? 'an integer' : 'a number'} from ${min} to ${max}, got '${v}'`);
  }
  return n;
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Validates raw options (CLI flags or an object from code) into frozen ServerOptions. */
export function validateServerOptions(raw: RawServerOptions = {}): ServerOptions {
  const host = raw.host ?? '127.0.0.1';
  if (typeof host !== 'string' || host === '') throw opt('host', 'expected an address to bind');
  if (raw.model_config_file !== undefined && (raw.model_name !== undefined || raw.model_base_path !== undefined)) {
    throw opt('model_config_file', 'give either --model_config_file or --model_name/--model_base_path, not both');
  }
  let models: readonly ModelSource[] | undefined;
  if (raw.model_config_file !== undefined) {
    models = readModelConfigFile(raw.model_config_file);
  } else if (raw.model_base_path !== undefined) {
    const name = raw.model_name ?? 'default';
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(name))
      throw opt('model_name', `'${name}' is not a valid model name (letters, digits, _ . -)`);
    models = Object.freeze([
      Object.freeze({ name, basePath: raw.model_base_path, policy: DEFAULT_POLICY, labels: Object.freeze({}) }),
    ]);
  } else if (raw.model_name !== undefined) {
    throw opt('model_name', 'needs --model_base_path (the folder holding numeric version folders)');
  }
  const level = raw.log_level ?? 'info';
  if (!LOG_LEVELS.includes(level)) throw opt('log-level', `expected one of ${LOG_LEVELS.join(', ')}, got '${level}'`);
  return Object.freeze({
    host,
    grpcPort: num(raw.port, 'port', 8500, 0, 65535),
    restPort: num(raw.rest_api_port, 'rest_api_port', 8501, 0, 65535),
    models,
    pollWaitSeconds: num(raw.file_system_poll_wait_seconds, 'file_system_poll_wait_seconds', 1, 0, 86400, false),
    fixes: resolveFixes(raw.mode, raw.fixes),
    grpcMaxThreads: num(raw.grpc_max_threads, 'grpc_max_threads', 4 * availableParallelism(), 1, 100000),
    modelDelayMs: num(raw.model_delay_ms, 'model-delay-ms', 0, 0, 600000, false),
    maxMessageBytes: num(raw.max_message_bytes, 'max_message_bytes', 4 * 1024 * 1024, 1024, 2 ** 31 - 1),
    executorCacheSize: num(raw.executor_cache_size, 'executor-cache-size', 64, 1, 10_000_000),
    minIdleThreads: num(raw.min_idle_threads, 'min-idle-threads', 1, 0, 1000),
    idleThreadGraceMs: num(raw.idle_thread_grace_ms, 'idle-thread-grace-ms', 1000, 0, 3_600_000, false),
    diagnostics: raw.diagnostics === true,
    diagnosticsPort: num(raw.diagnostics_port, 'diagnostics-port', 0, 0, 65535),
    diagnosticsDir: raw.diagnostics_dir ?? join(tmpdir(), 'leakscope-diagnostics'),
    logLevel: level,
  });
}
