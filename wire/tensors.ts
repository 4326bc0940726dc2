/**
 * Tensors between the wire and onnxruntime: TensorProto (both encodings: typed `*_val`
 * fields and little-endian `tensor_content`) and TF Serving's JSON, to and from a
 * HostTensor whose data is the typed array onnxruntime takes.
 * Every failure is an LsError naming the input and what was wrong.
 */
import { LsError } from '../common/errors.js';

/** Element types, named as onnxruntime names them. */
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'int16' | 'int8' | 'uint8' | 'bool' | 'float16';

export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Int16Array
  | Int8Array
  | Uint8Array
  | Uint16Array;

export interface HostTensor {
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: TensorData;
}

interface DTypeInfo {
  readonly tf: number;
  readonly tfName: string;
  readonly bytes: number;
  readonly make: (n: number) => TensorData;
  /** The typed array class: views of shared bytes (`new ctor(buffer, byteOffset, length)`). */
  readonly ctor: new (
    buffer: ArrayBufferLike,
    byteOffset: number,
    length: number,
  ) => TensorData;
  /** Which TensorProto repeated field carries values of this dtype. */
  readonly valField: 'float_val' | 'double_val' | 'int_val' | 'int64_val' | 'bool_val' | 'half_val';
}

const DTYPES: Readonly<Record<DType, DTypeInfo>> = {
  float32: {
    tf: 1,
    tfName: 'DT_FLOAT',
    bytes: 4,
    make: (n) => new Float32Array(n),
    ctor: Float32Array,
    valField: 'float_val',
  },
  float64: {
    tf: 2,
    tfName: 'DT_DOUBLE',
    bytes: 8,
    make: (n) => new Float64Array(n),
    ctor: Float64Array,
    valField: 'double_val',
  },
  int32: { tf: 3, tfName: 'DT_INT32', bytes: 4, make: (n) => new Int32Array(n), ctor: Int32Array, valField: 'int_val' },
  uint8: { tf: 4, tfName: 'DT_UINT8', bytes: 1, make: (n) => new Uint8Array(n), ctor: Uint8Array, valField: 'int_val' },
  int16: { tf: 5, tfName: 'DT_INT16', bytes: 2, make: (n) => new Int16Array(n), ctor: Int16Array, valField: 'int_val' },
  int8: { tf: 6, tfName: 'DT_INT8', bytes: 1, make: (n) => new Int8Array(n), ctor: Int8Array, valField: 'int_val' },
  int64: {
    tf: 9,
    tfName: 'DT_INT64',
    bytes: 8,
    make: (n) => new BigInt64Array(n),
    ctor: BigInt64Array,
    valField: 'int64_val',
  },
  bool: { tf: 10, tfName: 'DT_BOOL', bytes: 1, make: (n) => new Uint8Array(n), ctor: Uint8Array, valField: 'bool_val' },
  float16: {
    tf: 19,
    tfName: 'DT_HALF',
    bytes: 2,
    make: (n) => new Uint16Array(n),
    ctor: Uint16Array,
    valField: 'half_val',
  },
};

const BY_TF = new Map<number, DType>(Object.entries(DTYPES).map(([k, v]) => [v.tf, k as DType]));
const BY_TF_NAME = new Map<string, DType>(Object.entries(DTYPES).map(([k, v]) => [v.tfName, k as DType]));
const TF_NAMES: Record<number, string> = {
  0: 'DT_INVALID',
  7: 'DT_STRING',
  8: 'DT_COMPLEX64',
  14: 'DT_BFLOAT16',
  17: 'DT_UINT16',
  22: 'DT_UINT32',
  23: 'DT_UINT64',
};

export const tfDtypeOf = (d: DType): number => DTYPES[d].tf;
export const tfDtypeName = (tf: number): string => {
  const d = BY_TF.get(tf);
  return d ? DTYPES[d].tfName : (TF_NAMES[tf] ?? `DataType(${tf})`);
};
export const dtypeFromTf = (tf: number): DType | undefined => BY_TF.get(tf);
/** `'DT_FLOAT'` → `'float32'`: the DataType names REST metadata JSON uses. */
export const dtypeFromTfName = (tfName: string): DType | undefined => BY_TF_NAME.get(tfName);
export const dtypeBytes = (d: DType): number => DTYPES[d].bytes;
/** `length` elements of dtype `d` over `buffer` from `byteOffset`, not copied. */
export const tensorView = (d: DType, buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData =>
  new DTYPES[d].ctor(buffer, byteOffset, length);

/**
 * A request tensor may not hold more elements than this, whatever its encoding: a single
 * `*_val` value fills the whole shape (TensorFlow's rule), so without a bound a few bytes
 * could ask for terabytes.
 */
export const MAX_TENSOR_ELEMENTS = 16 * 1024 * 1024;

/** `[2,1]` → "[2,1]" for messages. */
export const shapeStr = (dims: readonly number[]): string => `[${dims.join(',')}]`;

const elementCount = (dims: readonly number[]): number => dims.reduce((a, b) => a * b, 1);

const bad = (message: string): LsError => new LsError('LS_ERR_INVALID_REQUEST', message);

/** Numbers from protobufjs int64 fields arrive as number, string or Long. */
type Int64Like = number | string | { low: number; high: number; unsigned?: boolean; toString(): string };

function toBigInt(v: Int64Like): bigint {
  if (typeof v === 'number') return BigInt(v);
  if (typeof v === 'string') return BigInt(v);
  // Long: combine the halves without a string round trip.
  return (BigInt(v.high) << 32n) | BigInt(v.low >>> 0);
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
const MIN_SAFE = BigInt(Number.MIN_SAFE_INTEGER);

/** `what()` names the value in the error; called only when there is one. */
function toSafeNumber(v: Int64Like, what: () => string): number {
  // Per dimension of every request: a Long below 2^32 (every real size) needs no BigInt.
  if (typeof v === 'object' && v.high === 0) return v.low >>> 0;
  const b = toBigInt(v);
  if (b > MAX_SAFE || b < MIN_SAFE) throw bad(`${what()} is out of range: ${b}`);
  return Number(b);
}

/** The decoded shape of a TensorProto as protobufjs gives it (keepCase). */
export interface TensorProtoLike {
  dtype?: number;
  tensor_shape?: { dim?: Array<{ size?: Int64Like; name?: string }>; unknown_rank?: boolean } | null;
  tensor_content?: Uint8Array;
  float_val?: number[];
  double_val?: number[];
  int_val?: number[];
  int64_val?: Int64Like[];
  bool_val?: boolean[];
  half_val?: number[];
  string_val?: Uint8Array[];
}

/** What a request tensor declares (dtype and shape), read before anything is allocated for it. */
export interface TensorDeclaration {
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** Elements the shape holds: what filling it will allocate, whatever the wire carried. */
  readonly elements: number;
  /** elements × the dtype's size. */
  readonly bytes: number;
}

/** The declaration of an already built tensor (REST builds its tensors from the bounded body). */
export const declarationOf = (t: { readonly dtype: DType; readonly dims: readonly number[] }): TensorDeclaration => {
  const elements = elementCount(t.dims);
  return { dtype: t.dtype, dims: t.dims, elements, bytes: elements * DTYPES[t.dtype].bytes };
};

/**
 * Reads a TensorProto's dtype and shape and checks them, allocating nothing: a request
 * budget is checked on these before any input is filled.
 * @example declareTensorProto({ dtype: 1, tensor_shape: { dim: [{ size: 4000000 }, { size: 1 }] } }, 'x').bytes // 16000000
 */
export function declareTensorProto(tp: TensorProtoLike, name: string): TensorDeclaration {
  const tf = tp.dtype ?? 0;
  const dtype = BY_TF.get(tf);
  if (!dtype)
    throw bad(
      `input '${name}' has dtype ${tfDtypeName(tf)}, which this server does not support (supported: ${Object.values(
        DTYPES,
      )
        .map((d) => d.tfName)
        .join(', ')})`,
    );
  const shape = tp.tensor_shape;
  if (shape?.unknown_rank) throw bad(`input '${name}' has unknown rank; a request tensor needs a concrete shape`);
  const dims = (shape?.dim ?? []).map((d, i) => {
    const n = toSafeNumber(d.size ?? 0, () => `input '${name}' dimension ${i}`);
    if (n < 0) throw bad(`input '${name}' has a negative dimension ${i} (${n}); request tensors need concrete sizes`);
    return n;
  });
  const n = elementCount(dims);
  if (n > MAX_TENSOR_ELEMENTS) {
    throw bad(
      `input '${name}' has shape ${shapeStr(dims)} (${n} elements), over the limit of ${MAX_TENSOR_ELEMENTS} elements per tensor`,
    );
  }
  return declarationOf({ dtype, dims });
}

/**
 * Converts one PredictRequest input TensorProto into a HostTensor. `declared` is its
 * declaration when the caller has already read it (the request budget does, first), so the
 * shape is read once per request.
 * @example fromTensorProto({ dtype: 1, tensor_shape: { dim: [{ size: 1 }] }, float_val: [0.5] }, 'user_age')
 */
export function fromTensorProto(
  tp: TensorProtoLike,
  name: string,
  declared: TensorDeclaration = declareTensorProto(tp, name),
): HostTensor {
  const { dtype, dims, elements: n } = declared;
  const info = DTYPES[dtype];
  const content = tp.tensor_content;
  if (content && content.length > 0) {
    if (content.length !== n * info.bytes) {
      throw bad(
        `input '${name}': tensor_content has ${content.length} bytes but shape ${shapeStr(dims)} of ${info.tfName} needs ${n * info.bytes}`,
      );
    }
    const data = info.make(n);
    // Copy: the wire buffer is not aligned for the typed array, and may be reused.
    new Uint8Array(data.buffer, data.byteOffset, data.byteLength).set(content);
    return { dtype, dims, data };
  }
  const vals = (tp[info.valField] ?? []) as unknown[];
  if (n === 0) return { dtype, dims, data: info.make(0) };
  if (vals.length === 0)
    throw bad(
      `input '${name}' has no values: shape ${shapeStr(dims)} needs ${n} ${info.valField} value(s) or tensor_content`,
    );
  if (vals.length !== n && vals.length !== 1) {
    throw bad(`input '${name}' has ${vals.length} ${info.valField} value(s) but shape ${shapeStr(dims)} needs ${n}`);
  }
  const data = info.make(n);
  // TensorFlow fills the whole tensor with a single given value; so do we.
  const at = vals.length === 1 ? () => vals[0] : (i: number) => vals[i];
  if (dtype === 'int64') {
    const out = data as BigInt64Array;
    for (let i = 0; i < n; i++) out[i] = toBigInt(at(i) as Int64Like);
  } else if (dtype === 'bool') {
    const out = data as Uint8Array;
    for (let i = 0; i < n; i++) out[i] = at(i) ? 1 : 0;
  } else {
    const out = data as Float32Array;
    for (let i = 0; i < n; i++) out[i] = at(i) as number;
  }
  return { dtype, dims, data };
}

/**
 * Converts an output HostTensor to a TensorProto object for protobufjs, using the typed
 * `*_val` field as TF Serving does by default, or `tensor_content` when asked.
 */
export function toTensorProto(t: HostTensor, encoding: 'typed' | 'content' = 'typed'): TensorProtoLike {
  const info = DTYPES[t.dtype];
  const base = { dtype: info.tf, tensor_shape: { dim: t.dims.map((size) => ({ size })) } };
  if (encoding === 'content') {
    return { ...base, tensor_content: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) };
  }
  let vals: unknown[];
  if (t.dtype === 'int64') vals = Array.from(t.data as BigInt64Array, (b) => b.toString());
  else if (t.dtype === 'bool') vals = Array.from(t.data as Uint8Array, (b) => b !== 0);
  else vals = Array.from(t.data as Float32Array);
  return { ...base, [info.valField]: vals };
}

// ---------------------------------------------------------------- JSON (REST API)

/**
 * Most list levels a JSON tensor may nest (TensorFlow's own rank limit is 254; no model
 * here has more than a few). Checked as the shape is read, without recursion, so a
 * 100,000-deep list costs a 400, not the stack.
 */
export const MAX_JSON_TENSOR_RANK = 32;

/** A JSON value named for a message without serialising it (it may be huge or deep). */
export function describeJson(x: unknown): string {
  if (Array.isArray(x)) return `a list of ${x.length}`;
  if (x === null) return 'null';
  if (typeof x === 'object') return 'an object';
  if (typeof x === 'string') return x.length > 40 ? `a string of ${x.length} characters` : JSON.stringify(x);
  return String(x);
}

/** Infers the shape of a nested JSON array, checks it is rectangular and flattens it (iteratively). */
function jsonShape(v: unknown, name: string): { dims: number[]; flat: unknown[] } {
  const dims: number[] = [];
  let cur = v;
  while (Array.isArray(cur)) {
    if (dims.length === MAX_JSON_TENSOR_RANK)
      throw bad(`input '${name}' nests lists more than ${MAX_JSON_TENSOR_RANK} levels deep (the most accepted)`);
    dims.push(cur.length);
    if (cur.length === 0) break;
    cur = cur[0];
  }
  // Level by level: every list at depth d must hold dims[d] elements; below the last level, scalars.
  let level: unknown[] = [v];
  for (let depth = 0; depth <= dims.length; depth++) {
    const next: unknown[] = [];
    for (let i = 0; i < level.length; i++) {
      const x = level[i];
      if (depth === dims.length) {
        if (Array.isArray(x))
          throw bad(
            `input '${name}' is ragged: element ${i} at depth ${depth} is a list where ${shapeStr(dims)} needs a scalar`,
          );
        continue;
      }
      if (!Array.isArray(x) || x.length !== dims[depth]) {
        throw bad(
          `input '${name}' is ragged: element ${i} at depth ${depth} should be a list of ${dims[depth]} element(s) to fit shape ${shapeStr(dims)}`,
        );
      }
      for (let k = 0; k < x.length; k++) next.push(x[k]);
    }
    if (depth < dims.length) level = next;
  }
  return { dims, flat: level };
}

function fillFromJson(flat: unknown[], dtype: DType, name: string): TensorData {
  const info = DTYPES[dtype];
  const data = info.make(flat.length);
  for (let i = 0; i < flat.length; i++) {
    const x = flat[i];
    if (dtype === 'bool') {
      if (typeof x !== 'boolean')
        throw bad(`input '${name}' expects booleans (${info.tfName}) but element ${i} is ${describeJson(x)}`);
      (data as Uint8Array)[i] = x ? 1 : 0;
      continue;
    }
    if (typeof x !== 'number')
      throw bad(`input '${name}' expects numbers (${info.tfName}) but element ${i} is ${describeJson(x)}`);
    if (dtype === 'float32' || dtype === 'float64') {
      (data as Float64Array)[i] = x;
    } else if (dtype === 'float16') {
      throw bad(`input '${name}' is ${info.tfName}, which the REST API of this server does not accept`);
    } else {
      if (!Number.isSafeInteger(x))
        throw bad(`input '${name}' expects integers (${info.tfName}) but element ${i} is ${x}`);
      if (dtype === 'int64') (data as BigInt64Array)[i] = BigInt(x);
      else {
        const min = dtype === 'int32' ? -2147483648 : dtype === 'int16' ? -32768 : dtype === 'int8' ? -128 : 0;
        const max = dtype === 'int32' ? 2147483647 : dtype === 'int16' ? 32767 : dtype === 'int8' ? 127 : 255;
        if (x < min || x > max) throw bad(`input '${name}' element ${i} (${x}) is out of range for ${info.tfName}`);
        (data as Int32Array)[i] = x;
      }
    }
  }
  return data;
}

/**
 * Converts a JSON value (a number, or nested lists of them) into a HostTensor of the
 * signature's dtype.
 * @example jsonToTensor([[1], [2]], 'int64', 'item_id') // dims [2,1]
 */
export function jsonToTensor(v: unknown, dtype: DType, name: string): HostTensor {
  const { dims, flat } = jsonShape(v, name);
  return { dtype, dims, data: fillFromJson(flat, dtype, name) };
}

/**
 * Stacks per-instance JSON values (row form, `instances`) into one batched HostTensor.
 */
export function jsonRowsToTensor(rows: readonly unknown[], dtype: DType, name: string): HostTensor {
  const parts = rows.map((r, i) => {
    try {
      return jsonToTensor(r, dtype, name);
    } catch (e) {
      throw bad(`instance ${i}: ${(e as Error).message}`);
    }
  });
  const first = parts[0];
  if (!first) throw bad(`input '${name}' has no instances`);
  parts.forEach((p, i) => {
    if (shapeStr(p.dims) !== shapeStr(first.dims)) {
      throw bad(
        `input '${name}': instance ${i} has shape ${shapeStr(p.dims)} but instance 0 has ${shapeStr(first.dims)}; instances must agree`,
      );
    }
  });
  const per = elementCount(first.dims);
  const data = DTYPES[dtype].make(per * parts.length);
  parts.forEach((p, i) => (data as Float32Array).set(p.data as Float32Array, i * per));
  return { dtype, dims: [parts.length, ...first.dims], data };
}

function scalarToJson(t: HostTensor, i: number): number | boolean | string {
  switch (t.dtype) {
    case 'int64': {
      const b = (t.data as BigInt64Array)[i]!;
      const n = Number(b);
      return Number.isSafeInteger(n) ? n : b.toString();
    }
    case 'bool':
      return (t.data as Uint8Array)[i] !== 0;
    default:
      return (t.data as Float32Array)[i]!;
  }
}

/** Nested JSON lists of a HostTensor's values, shaped by its dims. */
export function tensorToJson(t: HostTensor, dimsFrom = 0, offset = 0): unknown {
  if (dimsFrom === t.dims.length) return scalarToJson(t, offset);
  const size = t.dims[dimsFrom]!;
  const stride = elementCount(t.dims.slice(dimsFrom + 1));
  const out = new Array<unknown>(size);
  for (let i = 0; i < size; i++) out[i] = tensorToJson(t, dimsFrom + 1, offset + i * stride);
  return out;
}

/** Row `i` of a batched tensor as JSON (row form answers, `predictions`). */
export function tensorRowToJson(t: HostTensor, row: number): unknown {
  const stride = elementCount(t.dims.slice(1));
  return tensorToJson(t, 1, row * stride);
}
