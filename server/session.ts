/**
 * The session layer between request handlers and onnxruntime, mirroring TensorFlow's
 * `DirectSession::GetOrCreateExecutors` (tensorflow/core/common_runtime/direct_session.cc):
 *
 *   1. key = inputs joined by "," in caller order + "->" + outputs + "/" + targets + "/"
 *      + partial-run flag + "/" + debug summary. Hit → return.
 *   2. Miss → sort inputs/outputs/targets, build sorted_key, look it up. Hit → insert the
 *      *unsorted* key too (this is leak 1: every new input order adds a key), return.
 *   3. Miss on both → build the executor from the sorted names, insert under both keys.
 *
 * Nothing evicts in upstream. The fixes are strategies picked at start-up:
 * `no-unsorted-insert` changes step 2, `bounded-cache` swaps the unbounded map for an
 * LRU; `sort-inputs` acts before the session (see inputOrderStrategy).
 */
import type { CacheCounters } from '../common/diagnostics-api.js';
import { LsError } from '../common/errors.js';
import type { FixSet } from '../common/fixes.js';
import type { Signature, TensorSpec } from './signature.js';
import { shapeStr, type HostTensor } from '../wire/tensors.js';

/**
 * A prepared feed/fetch plan: which model input each request input feeds, the dtype and
 * shape each must have, and the output names to fetch. Built once per signature (sorted
 * names), shared by every key that maps to it, and used by every Predict.
 */
export class Executor {
  /** Model input specs, in the sorted feed order this executor was built from. */
  readonly feedSpecs: readonly TensorSpec[];
  readonly fetchNames: readonly string[];
  private readonly feedIndex: ReadonlyMap<string, number>;

  constructor(
    readonly sortedKey: string,
    sortedInputs: readonly string[],
    sortedOutputs: readonly string[],
    signature: Signature,
  ) {
    this.feedSpecs = Object.freeze(
      sortedInputs.map((n) => {
        const i = signature.inputIndex.get(n);
        if (i === undefined) throw new LsError('LS_ERR_INVALID_REQUEST', `input '${n}' is not an input of the model`);
        return signature.inputs[i]!;
      }),
    );
    this.fetchNames = Object.freeze(
      sortedOutputs.map((n) => {
        if (!signature.outputIndex.has(n))
          throw new LsError('LS_ERR_INVALID_REQUEST', `output '${n}' is not an output of the model`);
        return n;
      }),
    );
    this.feedIndex = new Map(sortedInputs.map((n, i) => [n, i]));
  }

  /**
   * Checks each request tensor against the plan (dtype, rank, fixed dims, one batch size
   * across inputs) and returns the feeds keyed by model input name.
   */
  prepareFeeds(inputs: ReadonlyArray<readonly [string, HostTensor]>): Record<string, HostTensor> {
    const feeds: Record<string, HostTensor> = {};
    let batch = -1;
    let batchFrom = '';
    for (const [name, t] of inputs) {
      const idx = this.feedIndex.get(name);
      const spec = idx === undefined ? undefined : this.feedSpecs[idx];
      if (!spec) throw new LsError('LS_ERR_INVALID_REQUEST', `input '${name}' is not part of this executor's feeds`);
      if (t.dtype !== spec.dtype) {
        throw new LsError('LS_ERR_INVALID_REQUEST', `input '${name}' must be ${spec.dtype} but ${t.dtype} was given`);
      }
      if (t.dims.length !== spec.dims.length) {
        throw new LsError(
          'LS_ERR_INVALID_REQUEST',
          `input '${name}' must have rank ${spec.dims.length} (shape ${shapeStr(spec.dims)}) but has rank ${t.dims.length} (shape ${shapeStr(t.dims)})`,
        );
      }
      for (let d = 0; d < spec.dims.length; d++) {
        const want = spec.dims[d]!;
        if (want >= 0 && t.dims[d] !== want) {
          throw new LsError(
            'LS_ERR_INVALID_REQUEST',
            `input '${name}' has shape ${shapeStr(t.dims)} but the model expects ${shapeStr(spec.dims)} (dimension ${d} must be ${want})`,
          );
        }
      }
      const b = t.dims[0] ?? 1;
      if (b === 0) throw new LsError('LS_ERR_INVALID_REQUEST', `input '${name}' is empty (shape ${shapeStr(t.dims)})`);
      if (batch === -1) {
        batch = b;
        batchFrom = name;
      } else if (b !== batch) {
        throw new LsError(
          'LS_ERR_INVALID_REQUEST',
          `inputs disagree on the batch size: '${batchFrom}' has ${batch} but '${name}' has ${b}`,
        );
      }
      feeds[name] = t;
    }
    return feeds;
  }
}

/** Where executors are kept, keyed by their cache key. */
export interface ExecutorStore {
  get(key: string): Executor | undefined;
  set(key: string, ex: Executor): void;
  readonly size: number;
  /** UTF-8 bytes of every key held. */
  readonly keyBytes: number;
  keys(): IterableIterator<string>;
}

/** Upstream's `std::unordered_map executors_`: grows forever. */
export class UnboundedStore implements ExecutorStore {
  /** Named for what it is in upstream, so retainer paths read `executors`. */
  readonly executors = new Map<string, Executor>();
  keyBytes = 0;
  get(key: string) {
    return this.executors.get(key);
  }
  set(key: string, ex: Executor) {
    if (this.executors.has(key)) return; // emplace() does not overwrite
    this.executors.set(key, ex);
    this.keyBytes += Buffer.byteLength(key);
  }
  get size() {
    return this.executors.size;
  }
  keys() {
    return this.executors.keys();
  }
}

/** The `bounded-cache` fix: least-recently-used eviction past `bound` keys. */
export class LruStore implements ExecutorStore {
  readonly executors = new Map<string, Executor>();
  keyBytes = 0;
  evictions = 0;
  constructor(readonly bound: number) {
    if (!Number.isInteger(bound) || bound < 1)
      throw new LsError('LS_ERR_INVALID_OPTION', `--executor-cache-size: expected an integer ≥ 1, got ${bound}`);
  }
  get(key: string) {
    const ex = this.executors.get(key);
    if (ex) {
      // Map keeps insertion order: re-insert to mark as most recently used.
      this.executors.delete(key);
      this.executors.set(key, ex);
    }
    return ex;
  }
  set(key: string, ex: Executor) {
    if (this.executors.has(key)) return;
    this.executors.set(key, ex);
    this.keyBytes += Buffer.byteLength(key);
    while (this.executors.size > this.bound) {
      const oldest = this.executors.keys().next().value as string;
      this.executors.delete(oldest);
      this.keyBytes -= Buffer.byteLength(oldest);
      this.evictions++;
    }
  }
  get size() {
    return this.executors.size;
  }
  keys() {
    return this.executors.keys();
  }
}

/** What step 2 does on a sorted-key hit. */
type SortedHitPolicy = (store: ExecutorStore, unsortedKey: string, ex: Executor) => void;
const insertUnsortedKey: SortedHitPolicy = (store, key, ex) => store.set(key, ex);
const skipUnsortedInsert: SortedHitPolicy = () => undefined;

/** Upstream's key, byte for byte: "a,b->out//0/" for no targets, no partial run, no debug. */
export function executorKey(
  inputs: readonly string[],
  outputs: readonly string[],
  targets: readonly string[] = [],
  partialRun = false,
  debugSummary = '',
): string {
  return `${inputs.join(',')}->${outputs.join(',')}/${targets.join(',')}/${partialRun ? 1 : 0}/${debugSummary}`;
}

export interface SessionStrategies {
  readonly newStore: () => ExecutorStore;
  readonly onSortedHit: SortedHitPolicy;
}

export const DEFAULT_CACHE_BOUND = 64;

/** Picks the session strategies for a fix set, once, at start-up. */
export function sessionStrategies(fixes: FixSet, cacheBound = DEFAULT_CACHE_BOUND): SessionStrategies {
  return Object.freeze({
    newStore: fixes.fixes.has('bounded-cache') ? () => new LruStore(cacheBound) : () => new UnboundedStore(),
    onSortedHit: fixes.fixes.has('no-unsorted-insert') ? skipUnsortedInsert : insertUnsortedKey,
  });
}

/** The executor cache of one loaded model version (one DirectSession upstream). */
export class ModelSession {
  readonly store: ExecutorStore;
  readonly counters: CacheCounters = { lookups: 0, unsortedHits: 0, sortedHits: 0, misses: 0 };
  private readonly onSortedHit: SortedHitPolicy;

  constructor(
    readonly signature: Signature,
    strategies: SessionStrategies,
  ) {
    this.store = strategies.newStore();
    this.onSortedHit = strategies.onSortedHit;
  }

  /** `DirectSession::GetOrCreateExecutors`, for feeds in the order the caller gave them. */
  getOrCreateExecutor(inputs: readonly string[], outputs: readonly string[]): Executor {
    this.counters.lookups++;
    const key = executorKey(inputs, outputs);
    const hit = this.store.get(key);
    if (hit) {
      this.counters.unsortedHits++;
      return hit;
    }
    const sortedInputs = [...inputs].sort();
    const sortedOutputs = [...outputs].sort();
    const sortedKey = executorKey(sortedInputs, sortedOutputs);
    const sortedHit = this.store.get(sortedKey);
    if (sortedHit) {
      this.counters.sortedHits++;
      this.onSortedHit(this.store, key, sortedHit);
      return sortedHit;
    }
    this.counters.misses++;
    const ex = new Executor(sortedKey, sortedInputs, sortedOutputs, this.signature);
    this.store.set(sortedKey, ex);
    this.store.set(key, ex);
    return ex;
  }
}

/** `sort-inputs` (TF Serving PR #1638): the order inputs reach the session in. */
export type InputOrderStrategy = <T>(
  inputs: ReadonlyArray<readonly [string, T]>,
) => ReadonlyArray<readonly [string, T]>;
const asSent: InputOrderStrategy = (inputs) => inputs;
const sortedByName: InputOrderStrategy = (inputs) =>
  [...inputs].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));

export function inputOrderStrategy(fixes: FixSet): InputOrderStrategy {
  return fixes.fixes.has('sort-inputs') ? sortedByName : asSent;
}
