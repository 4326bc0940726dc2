/**
 * The reference server's model: a small click-through-rate network with named features,
 * like the ranking models of the TF Serving leak reports. Built in TypeScript and encoded
 * as a real ONNX file, with weights fixed by (seed, version) so that runs are reproducible
 * and a version swap shows in the outputs.
 *
 * Graph: each feature [batch, 1] (int64 ones Cast to float) → Concat axis 1 → [batch, N]
 * → Mul feature_scale (per-column 1/max, so ids like 12345 do not saturate) → MatMul W1
 * [N, H] + b1 → Relu → MatMul W2 [H, 1] + b2 → Sigmoid → prob [batch, 1].
 */
import { LsError } from '../../common/errors.js';
import { VERSION } from '../../common/version.js';
import { mixSeed, mulberry32 } from '../../common/prng.js';
import {
  type OnnxDim,
  type OnnxElemType,
  type OnnxNode,
  encodeOnnxModel,
  floatTensor,
  intAttr,
  node,
  onnxElemType,
  valueInfo,
} from './onnx-proto.js';

/** One input feature: its name, element type and the range real traffic draws from. */
export interface CtrFeature {
  readonly name: string;
  readonly dtype: OnnxElemType;
  /** Typical values lie in [min, max]; int64 features take integers. */
  readonly min: number;
  readonly max: number;
}

/** A named tensor in the model's signature; string dims are symbolic ("batch"). */
export interface CtrTensorSpec {
  readonly name: string;
  readonly dtype: OnnxElemType;
  readonly shape: readonly OnnxDim[];
}

export interface CtrSignature {
  readonly inputs: readonly CtrTensorSpec[];
  readonly outputs: readonly CtrTensorSpec[];
}

/** The model's constants, row-major, as float32 (exactly what the file holds). */
export interface CtrWeights {
  /** [N]: multiplies the concatenated features column by column. */
  readonly featureScale: Float32Array;
  /** [N, H] */
  readonly w1: Float32Array;
  /** [H] */
  readonly b1: Float32Array;
  /** [H, 1] */
  readonly w2: Float32Array;
  /** [1] */
  readonly b2: Float32Array;
}

export interface CtrModel {
  readonly bytes: Uint8Array;
  readonly signature: CtrSignature;
  readonly features: readonly CtrFeature[];
  readonly weights: CtrWeights;
  readonly hidden: number;
  readonly seed: number;
  readonly version: number;
}

export interface CtrModelOptions {
  /** Number of input features (default 10). */
  features?: number;
  /** Hidden-layer width (default 16). */
  hidden?: number;
  /** Weight seed (default 42); mixed with `version`. */
  seed?: number;
  /** Model version (default 1): stored in the file and mixed into the weights. */
  version?: number;
}

/** The ONNX operator set and IR version the builder targets (onnxruntime 1.30 reads both). */
export const CTR_OPSET = 17;
export const CTR_IR_VERSION = 8;
export const CTR_OUTPUT = 'prob';
export const CTR_DEFAULTS = { features: 10, hidden: 16, seed: 42, version: 1 } as const;
/** Upper bounds that keep a model small enough to build and load in milliseconds. */
export const CTR_LIMITS = { features: 1000, hidden: 1024 } as const;

const f = (name: string, min: number, max: number): CtrFeature => ({ name, dtype: 'float32', min, max });
const i64 = (name: string, min: number, max: number): CtrFeature => ({ name, dtype: 'int64', min, max });

/**
 * The named features, in input order: ids and categories are int64, measures float32.
 * A model with more features than this list continues with generated ones (ctrFeatures).
 */
export const CTR_FEATURES: readonly CtrFeature[] = [
  f('user_age', 18, 80),
  i64('item_id', 1, 100_000),
  i64('user_gender', 0, 2),
  i64('item_category', 0, 499),
  i64('hour_of_day', 0, 23),
  i64('device_type', 0, 4),
  i64('user_city', 0, 999),
  f('item_price', 0.5, 500),
  f('ctr_7d', 0, 1),
  f('dwell_time', 0, 300),
  i64('user_id', 1, 1_000_000),
  i64('position', 1, 50),
  i64('day_of_week', 0, 6),
  f('session_clicks', 0, 50),
  f('item_age_days', 0, 365),
  f('query_similarity', 0, 1),
];

/**
 * The first `n` features of the CTR model: the named list, then `feature_<i>` (i the
 * 0-based position), alternating float32 (even i) and int64 (odd i).
 *
 * @example
 * ctrFeatures(3) // user_age float32, item_id int64, user_gender int64
 */
export function ctrFeatures(n: number = CTR_DEFAULTS.features): CtrFeature[] {
  checkInt('features', n, 1, CTR_LIMITS.features);
  return Array.from(
    { length: n },
    (_, i) => CTR_FEATURES[i] ?? (i % 2 === 0 ? f(`feature_${i}`, 0, 1) : i64(`feature_${i}`, 0, 999)),
  );
}

/**
 * Builds the CTR model as ONNX bytes, with its signature, features and weights.
 *
 * @example
 * const { bytes, signature } = buildCtrModel({ features: 10, version: 2 });
 * await writeFile('models/ctr/2/model.onnx', bytes);
 */
export function buildCtrModel(opts: CtrModelOptions = {}): CtrModel {
  const n = opts.features ?? CTR_DEFAULTS.features;
  const hidden = opts.hidden ?? CTR_DEFAULTS.hidden;
  const seed = opts.seed ?? CTR_DEFAULTS.seed;
  const version = opts.version ?? CTR_DEFAULTS.version;
  checkInt('hidden', hidden, 1, CTR_LIMITS.hidden);
  checkInt('seed', seed, 0, 0xffffffff);
  checkInt('version', version, 0, Number.MAX_SAFE_INTEGER);
  const features = ctrFeatures(n);
  const weights = ctrWeights(features, hidden, seed, version);

  const nodes: OnnxNode[] = [];
  const columns = features.map((ft) => {
    if (ft.dtype === 'float32') return ft.name;
    nodes.push(node('Cast', [ft.name], [`${ft.name}_f`], { to: intAttr(onnxElemType('float32')) }));
    return `${ft.name}_f`;
  });
  nodes.push(
    node('Concat', columns, ['features'], { axis: intAttr(1) }),
    node('Mul', ['features', 'feature_scale'], ['features_scaled']),
    node('MatMul', ['features_scaled', 'w1'], ['hidden_mm']),
    node('Add', ['hidden_mm', 'b1'], ['hidden_pre']),
    node('Relu', ['hidden_pre'], ['hidden']),
    node('MatMul', ['hidden', 'w2'], ['logit_mm']),
    node('Add', ['logit_mm', 'b2'], ['logit']),
    node('Sigmoid', ['logit'], [CTR_OUTPUT]),
  );

  const signature: CtrSignature = {
    inputs: features.map((ft) => ({ name: ft.name, dtype: ft.dtype, shape: ['batch', 1] })),
    outputs: [{ name: CTR_OUTPUT, dtype: 'float32', shape: ['batch', 1] }],
  };
  const bytes = encodeOnnxModel({
    ir_version: CTR_IR_VERSION,
    opset_import: [{ domain: '', version: CTR_OPSET }],
    producer_name: 'leakscope',
    producer_version: VERSION,
    model_version: version,
    doc_string: `leakscope CTR model: ${n} features, hidden ${hidden}, seed ${seed}, version ${version}`,
    metadata_props: [
      { key: 'leakscope.model', value: 'ctr' },
      { key: 'leakscope.seed', value: String(seed) },
      { key: 'leakscope.version', value: String(version) },
    ],
    graph: {
      name: 'ctr',
      node: nodes,
      initializer: [
        floatTensor('feature_scale', [n], weights.featureScale),
        floatTensor('w1', [n, hidden], weights.w1),
        floatTensor('b1', [hidden], weights.b1),
        floatTensor('w2', [hidden, 1], weights.w2),
        floatTensor('b2', [1], weights.b2),
      ],
      input: signature.inputs.map((s) => valueInfo(s.name, s.dtype, s.shape)),
      output: signature.outputs.map((s) => valueInfo(s.name, s.dtype, s.shape)),
    },
  });
  return { bytes, signature, features, weights, hidden, seed, version };
}

/**
 * Weights from mulberry32(mix(seed, version)): Glorot-uniform matrices and small biases,
 * so that with features scaled into [0, 1] the logit stays within a few units and the
 * sigmoid is not saturated.
 */
function ctrWeights(features: readonly CtrFeature[], hidden: number, seed: number, version: number): CtrWeights {
  const n = features.length;
  const rand = mulberry32(mixSeed(seed, version));
  const uniform = (len: number, limit: number) => Float32Array.from({ length: len }, () => (rand() * 2 - 1) * limit);
  return {
    featureScale: Float32Array.from(features, (ft) => 1 / Math.max(Math.abs(ft.min), Math.abs(ft.max), 1e-6)),
    w1: uniform(n * hidden, Math.sqrt(6 / (n + hidden))),
    b1: uniform(hidden, 0.1),
    w2: uniform(hidden, Math.sqrt(6 / (hidden + 1))),
    b2: uniform(1, 0.1),
  };
}

/**
 * Deterministic example inputs for `batch` rows, drawn from each feature's range: for
 * tests and load generators. int64 values are integers (safe as JS numbers).
 *
 * @example
 * const cols = exampleCtrInputs(ctrFeatures(10), 3, 7); // { user_age: [..3], item_id: [..3], ... }
 */
export function exampleCtrInputs(features: readonly CtrFeature[], batch: number, seed = 1): Record<string, number[]> {
  const rand = mulberry32(mixSeed(seed, 0x5eed));
  const out: Record<string, number[]> = {};
  for (const ft of features) {
    out[ft.name] = Array.from({ length: batch }, () => {
      const x = ft.min + rand() * (ft.max - ft.min);
      return ft.dtype === 'int64' ? Math.round(x) : Math.fround(x);
    });
  }
  return out;
}

function checkInt(what: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) {
    throw new LsError('LS_ERR_INVALID_OPTION', `${what} must be an integer in ${min}..${max}, got ${v}`);
  }
}
