/**
 * The reference server's options, validated once at the boundary (messages name the
 * option, TF Serving's flag names where TF Serving has the flag) and then frozen.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { LsError } from '../common/errors.js';
import { asFlags, flag, matching, numeric, oneOf, text, v, validate } from '../common/validate.js';
import { DEFAULT_CAPTURE_LIMITS, type CaptureLimits } from './diagnostics-folder.js';
import { resolveFixes, type FixSet } from '../common/fixes.js';
import { DEFAULT_POLICY, readModelConfigFile, type ModelSource } from './model-config.js';
import { DEFAULT_REQUEST_BUDGET, type RequestBudgetLimits } from './request-budget.js';

export interface ServerOptions {
  readonly host: string;
  /** gRPC port (--port); 0 picks a free port. */
  readonly grpcPort: number;
  /** REST port (--rest_api_port); 0 picks a free port. */
  readonly restPort: number;
  /** undefined: the built-in CTR model, built into the cache folder on first start. */
  readonly models: readonly ModelSource[] | undefined;
  /** Folders reloads may point base paths into; undefined: the folders holding the start-up base paths. */
  readonly allowedModelRoots: readonly string[] | undefined;
  readonly pollWaitSeconds: number;
  readonly fixes: FixSet;
  /** Handler thread cap when the thread-cap fix is on (--grpc_max_threads). */
  readonly grpcMaxThreads: number;
  /** Extra service time per Predict, standing in for slow or stalled requests. */
  readonly modelDelayMs: number;
  readonly maxMessageBytes: number;
  /** Per-request and in-flight bounds on what requests may make the server allocate. */
  readonly requestBudget: RequestBudgetLimits;
  /** LRU bound when the bounded-cache fix is on. */
  readonly executorCacheSize: number;
  /** Idle handler threads kept (gRPC's min pollers); threads beyond it exit after their request. */
  readonly minIdleThreads: number;
  /** How long a thread beyond minIdleThreads may wait for work before it exits (0: at once, as upstream). */
  readonly idleThreadGraceMs: number;
  /** Handler threads booting an isolate at once at normal priority. */
  readonly maxBootingThreads: number;
  /** Whether threads past maxBootingThreads boot at the lowest priority at once ('auto') or wait their turn ('off'). */
  readonly backgroundBoots: boolean;
  readonly diagnostics: boolean;
  /** Diagnostics listener port (always on 127.0.0.1); 0 picks a free port. */
  readonly diagnosticsPort: number;
  /** Folder for captures; undefined: a private folder made per server (diagnostics-folder.ts). */
  readonly diagnosticsDir: string | undefined;
  /** Per-process capture quota and disk reserve of the diagnostics interface. */
  readonly captureLimits: CaptureLimits;
  readonly logLevel: string;
}

const port = numeric({ min: 0, max: 65535, integer: true });
const optionalText = v.optional(text());
/** A count or a size in bytes: any safe integer from `min`, `fallback` when not given. */
const safeInteger = (min: 0 | 1, fallback: number) =>
  v.optional(numeric({ min, max: Number.MAX_SAFE_INTEGER, integer: true }), fallback);

/**
 * Options as given on the command line (strings) or from code (numbers), under TF Serving's
 * flag names; the inferred type keeps code from passing any other.
 */
const rawServerOptionsSchema = v.object({
  host: v.optional(matching(/^\S+$/, 'an address to bind'), '127.0.0.1'),
  port: v.optional(port, 8500),
  rest_api_port: v.optional(port, 8501),
  model_name: v.optional(matching(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a model name (letters, digits, _ . -)')),
  model_base_path: optionalText,
  model_config_file: optionalText,
  allowed_model_roots: optionalText,
  file_system_poll_wait_seconds: v.optional(numeric({ min: 0, max: 86400 }), 1),
  mode: optionalText,
  fixes: optionalText,
  grpc_max_threads: v.optional(numeric({ min: 1, max: 100000, integer: true }), () => 4 * availableParallelism()),
  model_delay_ms: v.optional(numeric({ min: 0, max: 600000 }), 0),
  max_message_bytes: v.optional(numeric({ min: 1024, max: 2 ** 31 - 1, integer: true }), 4 * 1024 * 1024),
  max_request_elements: safeInteger(1, DEFAULT_REQUEST_BUDGET.maxRequestElements),
  max_request_bytes: safeInteger(1, DEFAULT_REQUEST_BUDGET.maxRequestBytes),
  max_inflight_request_bytes: safeInteger(1, DEFAULT_REQUEST_BUDGET.maxInflightBytes),
  executor_cache_size: v.optional(numeric({ min: 1, max: 10_000_000, integer: true }), 64),
  min_idle_threads: v.optional(numeric({ min: 0, max: 1000, integer: true }), 1),
  idle_thread_grace_ms: v.optional(numeric({ min: 0, max: 3_600_000 }), 1000),
  max_booting_threads: v.optional(numeric({ min: 1, max: 10_000, integer: true }), () => availableParallelism()),
  background_boots: v.optional(oneOf(['auto', 'off']), 'auto'),
  diagnostics: v.optional(flag(), false),
  diagnostics_port: v.optional(port, 0),
  diagnostics_dir: optionalText,
  diagnostics_max_captures: safeInteger(0, DEFAULT_CAPTURE_LIMITS.maxCaptures),
  diagnostics_max_capture_bytes: safeInteger(0, DEFAULT_CAPTURE_LIMITS.maxCaptureBytes),
  diagnostics_min_free_bytes: safeInteger(0, DEFAULT_CAPTURE_LIMITS.minFreeBytes),
  log_level: v.optional(oneOf(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'info'),
});

export type RawServerOptions = v.InferInput<typeof rawServerOptionsSchema>;

/** TF Serving's flags keep their names; leakscope's own are spelled with dashes. */
const flagOf = (field: string): string => (TF_SERVING_FLAGS.has(field) ? field : field.replaceAll('_', '-'));
const TF_SERVING_FLAGS = new Set([
  'port',
  'rest_api_port',
  'model_name',
  'model_base_path',
  'model_config_file',
  'file_system_poll_wait_seconds',
  'grpc_max_threads',
  'max_message_bytes',
  // ours, named in the style of the model flags it goes with
  'allowed_model_roots',
]);

const opt = (name: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `--${name}: ${msg}`);

/** Validates raw options (CLI flags or an object from code) into frozen ServerOptions. */
export function validateServerOptions(input: RawServerOptions = {}): ServerOptions {
  const raw = validate(rawServerOptionsSchema, input, asFlags(undefined, flagOf));
  if (raw.model_config_file !== undefined && (raw.model_name !== undefined || raw.model_base_path !== undefined)) {
    throw opt('model_config_file', 'give either --model_config_file or --model_name/--model_base_path, not both');
  }
  let models: readonly ModelSource[] | undefined;
  if (raw.model_config_file !== undefined) {
    models = readModelConfigFile(raw.model_config_file);
  } else if (raw.model_base_path !== undefined) {
    const name = raw.model_name ?? 'default';
    models = Object.freeze([
      Object.freeze({ name, basePath: raw.model_base_path, policy: DEFAULT_POLICY, labels: Object.freeze({}) }),
    ]);
  } else if (raw.model_name !== undefined) {
    throw opt('model_name', 'needs --model_base_path (the folder holding numeric version folders)');
  }
  let allowedModelRoots: readonly string[] | undefined;
  if (raw.allowed_model_roots !== undefined) {
    const roots = raw.allowed_model_roots
      .split(',')
      .map((r) => r.trim())
      .filter((r) => r !== '');
    if (roots.length === 0) throw opt('allowed_model_roots', 'expected a comma-separated list of folders');
    allowedModelRoots = Object.freeze(roots.map((r) => resolve(r)));
  }
  return Object.freeze({
    host: raw.host,
    grpcPort: raw.port,
    restPort: raw.rest_api_port,
    models,
    allowedModelRoots,
    pollWaitSeconds: raw.file_system_poll_wait_seconds,
    fixes: resolveFixes(raw.mode, raw.fixes),
    grpcMaxThreads: raw.grpc_max_threads,
    modelDelayMs: raw.model_delay_ms,
    maxMessageBytes: raw.max_message_bytes,
    requestBudget: Object.freeze({
      maxRequestElements: raw.max_request_elements,
      maxRequestBytes: raw.max_request_bytes,
      maxInflightBytes: raw.max_inflight_request_bytes,
    }),
    executorCacheSize: raw.executor_cache_size,
    minIdleThreads: raw.min_idle_threads,
    idleThreadGraceMs: raw.idle_thread_grace_ms,
    maxBootingThreads: raw.max_booting_threads,
    backgroundBoots: raw.background_boots === 'auto',
    diagnostics: raw.diagnostics,
    diagnosticsPort: raw.diagnostics_port,
    diagnosticsDir: raw.diagnostics_dir === '' ? undefined : raw.diagnostics_dir,
    captureLimits: Object.freeze({
      maxCaptures: raw.diagnostics_max_captures,
      maxCaptureBytes: raw.diagnostics_max_capture_bytes,
      minFreeBytes: raw.diagnostics_min_free_bytes,
    }),
    logLevel: raw.log_level,
  });
}
