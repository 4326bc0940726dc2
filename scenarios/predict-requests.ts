/**
 * TF Serving Predict requests built from a model's metadata, for the load drivers, with
 * the order of `inputs` set by a policy. Order is what leak 1 feeds on (the executor
 * cache keys on caller order), so a policy of K distinct permutations makes up to 2K
 * cache entries on a leaky server and 1 on a patched one.
 *
 * Permutations of N inputs are handled by rank (0..N!-1, factorial number system) while
 * N! is a safe integer, so K up to N! costs one number per order, not one array.
 */
import { LsError } from '../common/errors.js';
import { expecting, number, oneOf, v, validate } from '../common/validate.js';
import { distinctShuffles, mixSeed, mulberry32 } from '../common/prng.js';
import { dtypeFromTf, dtypeFromTfName, type DType, type HostTensor, type TensorData } from '../wire/tensors.js';
import { encodePredictParts, type ModelSpecInput } from './tf-client.js';

export interface InputSpec {
  readonly name: string;
  readonly dtype: DType;
  /** -1 where the model leaves a dimension open (the batch, usually). */
  readonly dims: readonly number[];
}

const orderPolicySchema = v.variant(
  'kind',
  [
    v.object({ kind: v.literal('fixed') }),
    v.object({ kind: v.literal('sorted') }),
    /** K distinct permutations (K=1: one random order; K ≥ N!: all of them). */
    v.object({
      kind: v.literal('permutations'),
      k: number({ min: 1, integer: true }),
      pick: v.optional(oneOf(['round-robin', 'random'])),
    }),
  ],
  expecting('fixed, sorted or permutations'),
);

export type OrderPolicy = v.InferOutput<typeof orderPolicySchema>;

const batchSchema = number({ min: 1, max: 100_000, integer: true });

export interface PredictRequestOptions {
  readonly model: ModelSpecInput;
  /** The signature's inputs, in signature order (inputSpecsFromMetadata). */
  readonly inputs: readonly InputSpec[];
  readonly order?: OrderPolicy;
  /** Rows per request (default 1). */
  readonly batch?: number;
  readonly seed?: number;
  /** gRPC TensorProto encoding (default typed *_val fields). */
  readonly encoding?: 'typed' | 'content';
  /** REST body form (default columnar {"inputs": ...}). */
  readonly restForm?: 'columnar' | 'row';
  /** Prefix for error messages (default "request"). */
  readonly where?: string;
}

const bad = (where: string, msg: string) => new LsError('LS_ERR_BAD_SCENARIO', `${where}${msg}`);

interface MetadataLike {
  readonly signatureDefs?: Record<string, unknown>;
  readonly metadata?: { signature_def?: { signature_def?: Record<string, unknown> } };
}

/**
 * The input specs of a signature, from `TfServingClient.metadata()` or from the REST
 * metadata JSON (`GET /v1/models/{name}/metadata`), in the signature's order.
 * @example const inputs = inputSpecsFromMetadata(await client.metadata({ name: 'ctr' }));
 */
export function inputSpecsFromMetadata(meta: unknown, signature = 'serving_default'): InputSpec[] {
  const m = meta as MetadataLike;
  const defs = m?.signatureDefs ?? m?.metadata?.signature_def?.signature_def;
  if (!defs || typeof defs !== 'object')
    throw bad('metadata', ': no signature_def map (expected TfServingClient.metadata() or the REST metadata JSON)');
  const sig = defs[signature] as
    | {
        inputs?: Record<
          string,
          { name?: string; dtype?: number | string; tensor_shape?: { dim?: Array<{ size?: number | string }> } }
        >;
      }
    | undefined;
  if (!sig?.inputs)
    throw bad('metadata', `: no signature '${signature}' with inputs (have ${Object.keys(defs).join(', ') || 'none'})`);
  return Object.entries(sig.inputs).map(([key, info]) => {
    const dtype = typeof info.dtype === 'number' ? dtypeFromTf(info.dtype) : dtypeFromTfName(String(info.dtype));
    if (!dtype)
      throw bad('metadata', `: input '${key}' has dtype ${info.dtype}, which the request builder does not generate`);
    return { name: key, dtype, dims: (info.tensor_shape?.dim ?? []).map((d) => Number(d.size ?? -1)) };
  });
}

/** A set of distinct input orders, each a permutation of 0..N-1 (indexes into inputs). */
export interface OrderPlan {
  readonly count: number;
  order(j: number): readonly number[];
}

const factorial = (n: number): number => {
  let f = 1;
  for (let i = 2; i <= n; i++) f *= i;
  return f;
};

/** The permutation of 0..n-1 with lexicographic rank r (0 = identity). */
export function unrankPermutation(n: number, r: number): number[] {
  const pool = Array.from({ length: n }, (_, i) => i);
  const out: number[] = [];
  for (let i = n; i >= 1; i--) {
    const f = factorial(i - 1);
    const q = Math.floor(r / f);
    r -= q * f;
    out.push(pool.splice(q, 1)[0]!);
  }
  return out;
}

/**
 * Plans the distinct input orders of a policy over `names` (signature order).
 * @example planInputOrders(['a', 'b', 'c'], { kind: 'permutations', k: 6 }).count // 6 (all of 3!)
 */
export function planInputOrders(names: readonly string[], input: OrderPolicy, seed = 1, where = 'order'): OrderPlan {
  const policy = validate(orderPolicySchema, input, { code: 'LS_ERR_BAD_SCENARIO', at: where });
  const n = names.length;
  const identity = names.map((_, i) => i);
  switch (policy.kind) {
    case 'fixed':
      return { count: 1, order: () => identity };
    case 'sorted': {
      // Code-unit order, as std::sort over std::string compares bytes for ASCII names.
      const sorted = [...identity].sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
      return { count: 1, order: () => sorted };
    }
    case 'permutations': {
      const k = policy.k;
      const rand = mulberry32(mixSeed(seed, 0x0bde));
      const total = factorial(n);
      if (total <= Number.MAX_SAFE_INTEGER) {
        if (k >= total) return { count: total, order: (j) => unrankPermutation(n, j % total) };
        if (k > 10_000_000) throw bad(where, `.k must be at most 10000000 unless it covers all ${n}! orders, got ${k}`);
        // Drawn as the load reaches them (a phase sends far fewer requests than K orders),
        // distinct, in the same sequence for a seed as drawing all K up front.
        const ranks = new Set<number>();
        const list: number[] = [];
        const rankAt = (j: number): number => {
          while (list.length <= j) {
            const r = Math.floor(rand() * total);
            if (!ranks.has(r)) {
              ranks.add(r);
              list.push(r);
            }
          }
          return list[j]!;
        };
        return { count: k, order: (j) => unrankPermutation(n, rankAt(j % k)) };
      }
      // N > 18: N! is astronomically larger than any K, so shuffles are distinct; dedupe anyway.
      if (k > 100_000) throw bad(where, `.k must be at most 100000 for ${n} inputs, got ${k}`);
      const perms = distinctShuffles(identity, k, rand);
      return { count: k, order: (j) => perms[j % k]! };
    }
  }
}

/** Which order request i uses: round-robin, or a seeded draw that depends only on (seed, i). */
export function orderIndexFor(i: number, count: number, pick: 'round-robin' | 'random', seed = 1): number {
  if (count === 1) return 0;
  return pick === 'random' ? Math.floor(mulberry32(mixSeed(seed, 0x91c4, i))() * count) : i % count;
}

function makeData(dtype: DType, n: number, rand: () => number): { data: TensorData; json: Array<number | boolean> } {
  const json: Array<number | boolean> = [];
  const intIn = (lo: number, hi: number) => lo + Math.floor(rand() * (hi - lo + 1));
  switch (dtype) {
    case 'float32':
    case 'float64': {
      const data = dtype === 'float32' ? new Float32Array(n) : new Float64Array(n);
      for (let i = 0; i < n; i++) data[i] = dtype === 'float32' ? Math.fround(rand()) : rand();
      return { data, json: Array.from(data) };
    }
    case 'float16': {
      // 0, 0.5 or 1 as IEEE half bits: plausible without a half-float encoder.
      const halves = [0, 0x3800, 0x3c00];
      const vals = [0, 0.5, 1];
      const data = new Uint16Array(n);
      for (let i = 0; i < n; i++) {
        const k = intIn(0, 2);
        data[i] = halves[k]!;
        json.push(vals[k]!);
      }
      return { data, json };
    }
    case 'int64': {
      const data = new BigInt64Array(n);
      for (let i = 0; i < n; i++) {
        const v = intIn(0, 99);
        data[i] = BigInt(v);
        json.push(v);
      }
      return { data, json };
    }
    case 'bool': {
      const data = new Uint8Array(n);
      for (let i = 0; i < n; i++) {
        data[i] = intIn(0, 1);
        json.push(data[i] === 1);
      }
      return { data, json };
    }
    default: {
      const data =
        dtype === 'int32'
          ? new Int32Array(n)
          : dtype === 'int16'
            ? new Int16Array(n)
            : dtype === 'int8'
              ? new Int8Array(n)
              : new Uint8Array(n);
      for (let i = 0; i < n; i++) data[i] = intIn(0, 99);
      return { data, json: Array.from(data) };
    }
  }
}

/** Nests a flat list into the shape `dims` for JSON (row-major). */
function nest(flat: readonly unknown[], dims: readonly number[]): unknown {
  if (dims.length === 0) return flat[0];
  if (dims.length === 1) return flat.slice(0, dims[0]);
  const step = dims.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: dims[0]! }, (_, r) => nest(flat.slice(r * step, (r + 1) * step), dims.slice(1)));
}

export interface PredictRequestSet {
  /** Distinct input orders, as input names (for tests and the manifest). */
  readonly orders: OrderPlan;
  readonly names: readonly string[];
  /** Input names of request i, in wire order. */
  namesFor(i: number): string[];
  /** gRPC PredictRequest bytes of request i. */
  grpc(i: number): Buffer;
  /** REST :predict JSON body of request i (keys in the same order). */
  rest(i: number): string;
}

/**
 * Builds the Predict requests of a phase: one seeded set of plausible values, the input
 * order chosen per request by the policy. Used by `leakscope run` for TF Serving targets.
 *
 * @example
 * const inputs = inputSpecsFromMetadata(await client.metadata({ name: 'ctr' }));
 * const reqs = predictRequests({ model: { name: 'ctr' }, inputs, order: { kind: 'permutations', k: 100 } });
 * startGrpcPhase({ name: 'shuffled', address, schedule, request: reqs.grpc });
 */
export function predictRequests(o: PredictRequestOptions): PredictRequestSet {
  const where = o.where ?? 'request';
  const batch = validate(batchSchema, o.batch ?? 1, { code: 'LS_ERR_BAD_SCENARIO', at: `${where}.batch` });
  if (!o.inputs.length) throw bad(where, '.inputs: the signature has no inputs');
  const seed = o.seed ?? 1;
  const policy = o.order ?? { kind: 'fixed' };
  const pick = policy.kind === 'permutations' ? (policy.pick ?? 'round-robin') : 'round-robin';
  const names = o.inputs.map((s) => s.name);
  const plan = planInputOrders(names, policy, seed, `${where}.order`);
  const rand = mulberry32(mixSeed(seed, 0xda7a));
  const tensors: HostTensor[] = [];
  const jsonCols: string[] = [];
  const jsonRows: unknown[][] = [];
  for (const s of o.inputs) {
    const dims = s.dims.length === 0 ? [] : s.dims.map((d, k) => (k === 0 && d < 0 ? batch : d < 0 ? 1 : d));
    const n = dims.reduce((a, b) => a * b, 1);
    const { data, json } = makeData(s.dtype, n, rand);
    tensors.push({ dtype: s.dtype, dims, data });
    jsonCols.push(JSON.stringify(nest(json, dims)));
    // Row form: one entry per row of the first dimension.
    const rows = dims.length === 0 ? 1 : dims[0]!;
    const per = rows ? n / rows : 0;
    jsonRows.push(
      Array.from({ length: rows }, (_, r) =>
        dims.length <= 1 ? json[r] : nest(json.slice(r * per, (r + 1) * per), dims.slice(1)),
      ),
    );
  }
  const quoted = names.map((n) => JSON.stringify(n));
  const restHead = o.model.signatureName ? `{"signature_name":${JSON.stringify(o.model.signatureName)},` : '{';
  const orderOf = (i: number) => orderIndexFor(i, plan.count, pick, seed);
  // Each input's map entry is encoded once; a request is their concatenation in its order.
  const { head, entries } = encodePredictParts(
    o.model,
    names.map((name, k) => [name, tensors[k]!] as const),
    o.encoding ?? 'typed',
  );
  const grpcBytes = head.length + entries.reduce((a, e) => a + e.length, 0);
  return {
    orders: plan,
    names,
    namesFor: (i) => plan.order(orderOf(i)).map((k) => names[k]!),
    grpc: (i) => {
      const ord = plan.order(orderOf(i));
      const parts = [head];
      for (const k of ord) parts.push(entries[k]!);
      return Buffer.concat(parts, grpcBytes);
    },
    rest: (i) => {
      const ord = plan.order(orderOf(i));
      // Built by hand: JSON.stringify would move integer-like keys to the front.
      if ((o.restForm ?? 'columnar') === 'columnar')
        return `${restHead}"inputs":{${ord.map((k) => `${quoted[k]}:${jsonCols[k]}`).join(',')}}}`;
      const rows = jsonRows[0]!.length;
      const inst = Array.from(
        { length: rows },
        (_, r) => `{${ord.map((k) => `${quoted[k]}:${JSON.stringify(jsonRows[k]![r])}`).join(',')}}`,
      );
      return `${restHead}"instances":[${inst.join(',')}]}`;
    },
  };
}

/** The REST predict URL of a model (`/v1/models/{name}[/versions/{v}|/labels/{l}]:predict`). */
export function restPredictPath(model: ModelSpecInput): string {
  const name = encodeURIComponent(model.name);
  if (model.version !== undefined) return `/v1/models/${name}/versions/${model.version}:predict`;
  if (model.label !== undefined) return `/v1/models/${name}/labels/${encodeURIComponent(model.label)}:predict`;
  return `/v1/models/${name}:predict`;
}
