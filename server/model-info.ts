/**
 * Model metadata and status answers, built once here and rendered for gRPC (protobuf
 * objects) or REST (TF Serving's JSON, where int64 travels as strings and enums by name).
 */
import { GrpcCode } from '../common/errors.js';
import type { Servable, VersionState, VersionStatus } from './repository.js';
import type { Signature, TensorSpec } from './signature.js';
import { tfDtypeName, tfDtypeOf } from '../wire/tensors.js';

export const STATE_NUMBER: Readonly<Record<VersionState, number>> = {
  START: 10,
  LOADING: 20,
  AVAILABLE: 30,
  UNLOADING: 40,
  END: 50,
};

const tensorInfo = (s: TensorSpec) => ({
  name: s.name,
  dtype: tfDtypeOf(s.dtype),
  tensor_shape: { dim: s.dims.map((size) => ({ size })) },
});

/** SignatureDef as a protobufjs object (dtype numbers). */
export function signatureDefProto(sig: Signature) {
  return {
    inputs: Object.fromEntries(sig.inputs.map((s) => [s.name, tensorInfo(s)])),
    outputs: Object.fromEntries(sig.outputs.map((s) => [s.name, tensorInfo(s)])),
    method_name: sig.methodName,
  };
}

const tensorInfoJson = (s: TensorSpec) => ({
  dtype: tfDtypeName(tfDtypeOf(s.dtype)),
  tensor_shape: { dim: s.dims.map((size) => ({ size: String(size), name: '' })), unknown_rank: false },
  name: s.name,
});

/** GET /v1/models/{name}/metadata body. */
export function metadataJson(s: Servable) {
  const sig = s.signature;
  return {
    model_spec: { name: s.model, signature_name: '', version: String(s.version) },
    metadata: {
      signature_def: {
        signature_def: {
          [sig.key]: {
            inputs: Object.fromEntries(sig.inputs.map((t) => [t.name, tensorInfoJson(t)])),
            outputs: Object.fromEntries(sig.outputs.map((t) => [t.name, tensorInfoJson(t)])),
            method_name: sig.methodName,
          },
        },
      },
    },
  };
}

/** GetModelStatusResponse as a protobufjs object. */
export function statusProto(list: readonly VersionStatus[]) {
  return {
    model_version_status: list.map((v) => ({
      version: v.version,
      state: STATE_NUMBER[v.state],
      status: { error_code: GrpcCode[v.errorCode], error_message: v.errorMessage },
    })),
  };
}

/** GET /v1/models/{name} body. */
export function statusJson(list: readonly VersionStatus[]) {
  return {
    model_version_status: list.map((v) => ({
      version: String(v.version),
      state: v.state,
      status: { error_code: v.errorCode, error_message: v.errorMessage },
    })),
  };
}
