/**
 * The one catalogue of leakscope errors. Every error the project raises on purpose has a
 * stable `LS_ERR_*` code, a message that names what was wrong, and its mapping to gRPC and
 * HTTP status, applied once at the edge (server/grpc, server/rest, cli).
 * Match on `code`, never on the message.
 */

/** gRPC status codes (numeric values are the gRPC wire values). */
export const GrpcCode = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCodeName = keyof typeof GrpcCode;

export const grpcCodeName = (code: number): string =>
  (Object.keys(GrpcCode) as GrpcCodeName[]).find((k) => GrpcCode[k] === code) ?? `CODE_${code}`;

interface ErrorDef {
  readonly grpc: GrpcCodeName;
  readonly http: number;
  /** CLI exit code when this error ends a command. */
  readonly exit: number;
}

const def = (grpc: GrpcCodeName, http: number, exit = 2): ErrorDef => ({ grpc, http, exit });

export const ERRORS = {
  /** An option or flag has a bad value (message names the option). */
  LS_ERR_INVALID_OPTION: def('INVALID_ARGUMENT', 400),
  /** A CLI usage problem: unknown command, missing positional argument. */
  LS_ERR_USAGE: def('INVALID_ARGUMENT', 400),
  /** A file the user pointed at cannot be read or parsed. */
  LS_ERR_BAD_FILE: def('INVALID_ARGUMENT', 400),
  /** Model, version or label unknown. */
  LS_ERR_MODEL_NOT_FOUND: def('NOT_FOUND', 404),
  /** Model exists but no version of it is available (yet / any more). */
  LS_ERR_MODEL_UNAVAILABLE: def('UNAVAILABLE', 503),
  /** A model base path outside the folders allowed at start-up, or unreadable (HandleReloadConfigRequest). */
  LS_ERR_PATH_NOT_ALLOWED: def('PERMISSION_DENIED', 403),
  /** Model file missing or corrupt at load time. */
  LS_ERR_MODEL_LOAD: def('INTERNAL', 500),
  /** Request is malformed or does not fit the signature. */
  LS_ERR_INVALID_REQUEST: def('INVALID_ARGUMENT', 400),
  /** Request body is not valid JSON / protobuf. */
  LS_ERR_MALFORMED: def('INVALID_ARGUMENT', 400),
  /** Request body exceeds the configured size limit. */
  LS_ERR_TOO_LARGE: def('RESOURCE_EXHAUSTED', 413),
  /** A request declares more elements or bytes than the per-request budget (--max_request_elements / _bytes). */
  LS_ERR_OVER_BUDGET: def('INVALID_ARGUMENT', 400),
  /** The process-wide budget of request bytes in flight is used up (--max_inflight_request_bytes); retry later. */
  LS_ERR_BUDGET_EXHAUSTED: def('RESOURCE_EXHAUSTED', 429),
  /** The client went away before its request was read or answered (counted apart from 5xx: 499, as nginx does). */
  LS_ERR_CLIENT_ABORTED: def('CANCELLED', 499),
  /** Handler thread cap reached (thread-cap fix, TF Serving PR #1785). */
  LS_ERR_THREADS_EXHAUSTED: def('RESOURCE_EXHAUSTED', 429),
  /** Method exists in TF Serving's API but this server does not implement it. */
  LS_ERR_UNIMPLEMENTED: def('UNIMPLEMENTED', 501),
  /** Unknown REST path or method. */
  LS_ERR_ROUTE_NOT_FOUND: def('NOT_FOUND', 404),
  LS_ERR_METHOD_NOT_ALLOWED: def('UNIMPLEMENTED', 405),
  /** Inference failed inside onnxruntime. */
  LS_ERR_INFERENCE: def('INTERNAL', 500),
  /** The server is shutting down. */
  LS_ERR_SHUTTING_DOWN: def('UNAVAILABLE', 503),
  /** A diagnostics operation cannot be done here (no --expose-gc, unknown thread...). */
  LS_ERR_DIAGNOSTICS: def('FAILED_PRECONDITION', 409),
  /** The diagnostics capture quota (count, bytes) or the disk reserve would be exceeded. */
  LS_ERR_CAPTURE_QUOTA: def('RESOURCE_EXHAUSTED', 429),
  /** Refused for where it came from: a Host or Origin the diagnostics interface does not serve (DNS rebinding, browsers). */
  LS_ERR_FORBIDDEN: def('PERMISSION_DENIED', 403),
  /** A heap snapshot file is truncated, corrupt or not a snapshot. */
  LS_ERR_BAD_SNAPSHOT: def('INVALID_ARGUMENT', 400),
  /** A scenario file or name is invalid. */
  LS_ERR_BAD_SCENARIO: def('INVALID_ARGUMENT', 400),
  /** A target cannot be reached or died. */
  LS_ERR_TARGET: def('UNAVAILABLE', 503),
  /** Prometheus cannot be reached or does not answer as its HTTP API does (fleet mode). */
  LS_ERR_PROMETHEUS: def('UNAVAILABLE', 502),
  /** A run directory is unreadable or of an unknown format. */
  LS_ERR_BAD_RUN: def('INVALID_ARGUMENT', 400),
  /** The CI gate failed (a budget was exceeded). */
  LS_ERR_GATE_FAILED: def('FAILED_PRECONDITION', 412, 1),
  /** A bug: anything we did not anticipate. */
  LS_ERR_INTERNAL: def('INTERNAL', 500, 2),
} as const satisfies Record<string, ErrorDef>;

export type ErrorCode = keyof typeof ERRORS;

export class LsError extends Error {
  override readonly name = 'LsError';
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }
  get grpcCode(): number {
    return GrpcCode[ERRORS[this.code].grpc];
  }
  get httpStatus(): number {
    return ERRORS[this.code].http;
  }
  get exitCode(): number {
    return ERRORS[this.code].exit;
  }
}

export const isLsError = (e: unknown): e is LsError => e instanceof LsError;

/** Wraps anything thrown into an LsError, keeping LsErrors as they are. */
export function toLsError(e: unknown, fallback: ErrorCode = 'LS_ERR_INTERNAL'): LsError {
  if (e instanceof LsError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new LsError(fallback, msg, { cause: e });
}
