/** What the transports (gRPC, REST) share: the model repository, Predict, metrics, logging. */
import type { Logger } from 'pino';
import { LsError } from '../common/errors.js';
import type { ServerMetrics } from './metrics.js';
import type { ModelSource } from './model-config.js';
import type { Predictor } from './predict.js';
import type { ModelRepository, VersionSpec } from './repository.js';
import type { RequestBudget } from './request-budget.js';

export interface ServiceContext {
  readonly repository: ModelRepository;
  readonly predictor: Predictor;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  readonly maxMessageBytes: number;
  /** Checked on every Predict's declared inputs before they are filled. */
  readonly budget: RequestBudget;
  /** HandleReloadConfigRequest: replace the served models. */
  reloadConfig(sources: readonly ModelSource[]): Promise<void>;
}

/** Parses a REST version path segment or a gRPC Int64Value into a version number. */
export function parseVersion(v: unknown, where: string): number {
  const n = typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : typeof v === 'number' ? v : NaN;
  if (!Number.isSafeInteger(n) || n < 0)
    throw new LsError('LS_ERR_INVALID_REQUEST', `${where}: '${String(v)}' is not a version number`);
  return n;
}

export function versionSpec(name: unknown, version: unknown, label: unknown, where: string): VersionSpec {
  if (typeof name !== 'string' || name === '')
    throw new LsError('LS_ERR_INVALID_REQUEST', `${where}: model name is missing`);
  return {
    name,
    version: version === undefined || version === null ? undefined : parseVersion(version, `${where} version`),
    label: typeof label === 'string' && label !== '' ? label : undefined,
  };
}
