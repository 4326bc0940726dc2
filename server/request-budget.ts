/**
 * The request budget: what a Predict may make the server allocate, checked on the shapes
 * and dtypes a request declares before any input is filled. A TensorProto with one value
 * fills its whole shape (TensorFlow's rule), so a few hundred wire bytes can declare
 * hundreds of MB; the per-tensor element limit alone, times inputs, times handler threads,
 * allows many GB. Two bounds:
 * - per request: total elements and bytes over all inputs (INVALID_ARGUMENT / 400, with
 *   the numbers);
 * - per process: bytes of admitted requests in flight (RESOURCE_EXHAUSTED / 429), so
 *   concurrent large requests cannot multiply the first bound.
 */
import { LsError } from '../common/errors.js';
import { formatBytes, formatCount } from '../common/format-numbers.js';
import type { TensorDeclaration } from '../wire/tensors.js';

export interface RequestBudgetLimits {
  /** Elements over all inputs of one request (--max-request-elements). */
  readonly maxRequestElements: number;
  /** Bytes over all inputs of one request (--max-request-bytes). */
  readonly maxRequestBytes: number;
  /** Bytes of all admitted requests in flight at once (--max-inflight-request-bytes). */
  readonly maxInflightBytes: number;
}

/**
 * Defaults sized for a 2-core, 24 GB machine: the built-in CTR model's largest sensible
 * batch is far below them, and a request's inputs are held about three times (filled
 * tensors, the message to its handler thread, onnxruntime's copy) plus its outputs, so the
 * in-flight bound keeps request data to a couple of GB at worst.
 */
export const DEFAULT_REQUEST_BUDGET: RequestBudgetLimits = Object.freeze({
  maxRequestElements: 8 * 1024 * 1024,
  maxRequestBytes: 64 * 1024 * 1024,
  maxInflightBytes: 512 * 1024 * 1024,
});

/** Releases what an admitted request holds of the in-flight budget; idempotent. */
export interface BudgetLease {
  readonly bytes: number;
  release(): void;
}

export class RequestBudget {
  private inflight = 0;
  private peak = 0;
  constructor(readonly limits: RequestBudgetLimits = DEFAULT_REQUEST_BUDGET) {}

  /** Bytes held by admitted requests now. */
  get inflightBytes(): number {
    return this.inflight;
  }

  /** Most bytes held at once since start-up. */
  get peakInflightBytes(): number {
    return this.peak;
  }

  /**
   * Checks a request's declared inputs against both bounds and holds its bytes until the
   * lease is released.
   * @example const lease = budget.admit(inputs.map(([n, tp]) => declareTensorProto(tp, n))); try { … } finally { lease.release(); }
   */
  admit(inputs: readonly TensorDeclaration[]): BudgetLease {
    let elements = 0;
    let bytes = 0;
    for (const t of inputs) {
      elements += t.elements;
      bytes += t.bytes;
    }
    const { maxRequestElements, maxRequestBytes, maxInflightBytes } = this.limits;
    if (elements > maxRequestElements || bytes > maxRequestBytes) {
      throw new LsError(
        'LS_ERR_OVER_BUDGET',
        `request needs ${formatCount(elements)} elements (${formatBytes(bytes)}) over ${inputs.length} input(s); the per-request budget is ${formatCount(maxRequestElements)} elements and ${formatBytes(maxRequestBytes)} (--max-request-elements, --max-request-bytes)`,
        { details: { elements, bytes, inputs: inputs.length } },
      );
    }
    if (this.inflight + bytes > maxInflightBytes) {
      throw new LsError(
        'LS_ERR_BUDGET_EXHAUSTED',
        `request needs ${formatBytes(bytes)} but ${formatBytes(this.inflight)} of the ${formatBytes(maxInflightBytes)} in-flight request budget is held by other requests (--max-inflight-request-bytes); retry later`,
        { details: { bytes, inflight: this.inflight } },
      );
    }
    this.inflight += bytes;
    if (this.inflight > this.peak) this.peak = this.inflight;
    let held = true;
    return {
      bytes,
      release: () => {
        if (!held) return;
        held = false;
        this.inflight -= bytes;
      },
    };
  }
}
