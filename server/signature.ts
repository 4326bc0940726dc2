/**
 * A model's serving signature (TF Serving's SignatureDef, "serving_default"), derived
 * from the ONNX model's inputs and outputs as onnxruntime reports them.
 */
import type { InferenceSession } from 'onnxruntime-node';
import { LsError } from '../common/errors.js';
import type { DType } from '../wire/tensors.js';

export interface TensorSpec {
  readonly name: string;
  readonly dtype: DType;
  /** -1 where the model leaves a dimension symbolic (the batch, usually). */
  readonly dims: readonly number[];
}

export interface Signature {
  readonly key: string;
  readonly methodName: string;
  readonly inputs: readonly TensorSpec[];
  readonly outputs: readonly TensorSpec[];
  /** input name → position in `inputs`. */
  readonly inputIndex: ReadonlyMap<string, number>;
  readonly outputIndex: ReadonlyMap<string, number>;
}

export const DEFAULT_SIGNATURE = 'serving_default';
export const PREDICT_METHOD = 'tensorflow/serving/predict';

const SUPPORTED = new Set<string>([
  'float32',
  'float64',
  'int32',
  'int64',
  'int16',
  'int8',
  'uint8',
  'bool',
  'float16',
]);

function specOf(m: InferenceSession.ValueMetadata, where: string): TensorSpec {
  if (!m.isTensor)
    throw new LsError(
      'LS_ERR_MODEL_LOAD',
      `${where} '${m.name}' is not a tensor; only tensor inputs and outputs are served`,
    );
  if (!SUPPORTED.has(m.type))
    throw new LsError('LS_ERR_MODEL_LOAD', `${where} '${m.name}' has element type ${m.type}, which is not served`);
  return Object.freeze({
    name: m.name,
    dtype: m.type as DType,
    dims: Object.freeze(m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1))),
  });
}

/** Builds the serving_default signature of an onnxruntime session. */
export function signatureOf(session: Pick<InferenceSession, 'inputMetadata' | 'outputMetadata'>): Signature {
  const inputs = Object.freeze(session.inputMetadata.map((m) => specOf(m, 'input')));
  const outputs = Object.freeze(session.outputMetadata.map((m) => specOf(m, 'output')));
  return Object.freeze({
    key: DEFAULT_SIGNATURE,
    methodName: PREDICT_METHOD,
    inputs,
    outputs,
    inputIndex: new Map(inputs.map((s, i) => [s.name, i])),
    outputIndex: new Map(outputs.map((s, i) => [s.name, i])),
  });
}
