/**
 * Encoding ONNX models with protobufjs from proto/onnx.proto: the schema loader plus small
 * constructors for the graph pieces (tensors, value infos, nodes, attributes). Objects use
 * the proto's own snake_case field names so they read like the ONNX specification.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../../common/package-root.js';

/** ONNX TensorProto.DataType values (ONNX numbering, not TensorFlow's). */
export const OnnxDataType = { FLOAT: 1, INT64: 7 } as const;
export type OnnxElemType = 'float32' | 'int64';
const ELEM_TYPE: Record<OnnxElemType, number> = { float32: OnnxDataType.FLOAT, int64: OnnxDataType.INT64 };

/** AttributeProto.AttributeType.INT, the only attribute type we emit. */
const ATTR_INT = 2;

/** A dimension: a fixed size, or a symbol such as "batch" for a size chosen per call. */
export type OnnxDim = number | string;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data: Uint8Array;
}
export interface OnnxValueInfo {
  name: string;
  type: { tensor_type: { elem_type: number; shape: { dim: ({ dim_value: number } | { dim_param: string })[] } } };
}
export interface OnnxAttribute {
  name: string;
  type: number;
  i: number;
}
export interface OnnxNode {
  name: string;
  op_type: string;
  input: string[];
  output: string[];
  attribute: OnnxAttribute[];
}
export interface OnnxModel {
  ir_version: number;
  opset_import: { domain: string; version: number }[];
  producer_name: string;
  producer_version: string;
  model_version: number;
  doc_string?: string;
  metadata_props?: { key: string; value: string }[];
  graph: {
    name: string;
    node: OnnxNode[];
    initializer: OnnxTensor[];
    input: OnnxValueInfo[];
    output: OnnxValueInfo[];
  };
}

let modelType: protobuf.Type | undefined;

/** The ModelProto type, loaded once; keepCase keeps the spec's snake_case field names. */
function modelProto(): protobuf.Type {
  if (!modelType) {
    const root = new protobuf.Root().loadSync(join(packageRoot(), 'proto', 'onnx.proto'), { keepCase: true });
    modelType = root.lookupType('onnx.ModelProto');
  }
  return modelType;
}

/**
 * Serialises a model to ONNX's binary form, ready for onnxruntime.
 *
 * @example
 * writeFileSync('model.onnx', encodeOnnxModel(model));
 */
export function encodeOnnxModel(model: OnnxModel): Uint8Array {
  const T = modelProto();
  return T.encode(T.fromObject(model)).finish();
}

/**
 * Decodes ONNX bytes into the same plain shape `encodeOnnxModel` takes (int64 as numbers,
 * bytes as Uint8Array), for inspecting files in tests and tools. Fields outside our
 * schema subset are dropped.
 *
 * @example
 * const m = decodeOnnxModel(readFileSync('model.onnx')); // m.opset_import[0].version
 */
export function decodeOnnxModel(bytes: Uint8Array): OnnxModel {
  const T = modelProto();
  return T.toObject(T.decode(bytes), { longs: Number }) as OnnxModel;
}

/**
 * A float32 constant tensor, stored as little-endian raw_data whatever the host's order.
 *
 * @example
 * floatTensor('b1', [16], new Float32Array(16))
 */
export function floatTensor(name: string, dims: number[], values: Float32Array): OnnxTensor {
  const count = dims.reduce((a, b) => a * b, 1);
  if (count !== values.length)
    throw new Error(`tensor ${name}: ${values.length} values for shape [${dims.join(', ')}]`);
  const raw = new Uint8Array(values.length * 4);
  const view = new DataView(raw.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  return { name, dims, data_type: OnnxDataType.FLOAT, raw_data: raw };
}

/**
 * A typed tensor value (graph input or output) with a possibly symbolic shape.
 *
 * @example
 * valueInfo('user_age', 'float32', ['batch', 1])
 */
export function valueInfo(name: string, elemType: OnnxElemType, shape: readonly OnnxDim[]): OnnxValueInfo {
  const dim = shape.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d }));
  return { name, type: { tensor_type: { elem_type: ELEM_TYPE[elemType], shape: { dim } } } };
}

/**
 * An operator node of the standard (ai.onnx) domain.
 *
 * @example
 * node('Relu', ['h_pre'], ['h'])
 * node('Concat', inputs, ['x'], { axis: intAttr(1) })
 */
export function node(
  opType: string,
  input: string[],
  output: string[],
  attributes: Record<string, Omit<OnnxAttribute, 'name'>> = {},
): OnnxNode {
  const attribute = Object.entries(attributes).map(([name, a]) => ({ name, ...a }));
  return { name: `${output[0]}_${opType.toLowerCase()}`, op_type: opType, input, output, attribute };
}

/** An INT attribute value, e.g. Concat's axis. @example node('Concat', xs, ['x'], { axis: intAttr(1) }) */
export const intAttr = (i: number): Omit<OnnxAttribute, 'name'> => ({ type: ATTR_INT, i });
/** ONNX's number for an element type, e.g. Cast's `to`. @example intAttr(onnxElemType('float32')) */
export const onnxElemType = (t: OnnxElemType): number => ELEM_TYPE[t];
