/**
 * Admission for handler threads: the RESOURCE_EXHAUSTED decisions, as a strategy picked once
 * at start-up. gRPC C++ asks its ResourceQuota for a thread before the sync server's
 * ThreadManager starts one (`thread_quota_->Reserve(1)` in thread_manager.cc); the quota's
 * default maximum is INT_MAX, so leaky admits every thread (leak 2). The `thread-cap` fix
 * (TF Serving PR #1785, `--grpc_max_threads`, `ResourceQuota::SetMaxThreads`) refuses thread
 * N+1 and answers the request RESOURCE_EXHAUSTED; here it also bounds the completion queue
 * at the cap, so a capped server never queues without bound either.
 */
import { LsError } from '../common/errors.js';
import type { FixSet } from '../common/fixes.js';

/** Whether a thread may start, whether a request may wait for one, and the answer when not. */
export interface ThreadAdmission {
  /** null when uncapped. */
  readonly cap: number | null;
  /** Whether thread `alive + 1` may start. */
  allows(alive: number): boolean;
  /** Whether a request may join a completion queue that already holds `queued` requests. */
  queues(queued: number): boolean;
  /** The answer to a request refused for want of a thread (LS_ERR_THREADS_EXHAUSTED). */
  refusal(): LsError;
}

function admission(cap: number | null, refusal: () => LsError): ThreadAdmission {
  // The same bound for both: `cap` threads, and no more than `cap` requests waiting for one.
  const under = cap === null ? () => true : (n: number) => n < cap;
  return Object.freeze({ cap, allows: under, queues: under, refusal });
}

/** Leaky: upstream's ResourceQuota default max threads is INT_MAX, so no cap at all. */
export const UNCAPPED_ADMISSION: ThreadAdmission = admission(
  null,
  () => new LsError('LS_ERR_THREADS_EXHAUSTED', 'no handler thread could be started'),
);

/** The `thread-cap` fix: at most `max` handler threads; past it, reject at once. */
export function cappedAdmission(max: number): ThreadAdmission {
  if (!Number.isInteger(max) || max < 1)
    throw new LsError('LS_ERR_INVALID_OPTION', `--grpc_max_threads: expected an integer ≥ 1, got ${max}`);
  return admission(
    max,
    () =>
      new LsError(
        'LS_ERR_THREADS_EXHAUSTED',
        `all ${max} handler threads are busy (--grpc_max_threads ${max}); request rejected, retry later`,
      ),
  );
}

/** Picks the admission strategy for a fix set, once, at start-up. */
export function threadAdmission(fixes: FixSet, grpcMaxThreads: number): ThreadAdmission {
  return fixes.fixes.has('thread-cap') ? cappedAdmission(grpcMaxThreads) : UNCAPPED_ADMISSION;
}
