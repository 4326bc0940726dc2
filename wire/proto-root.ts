/**
 * Loads leakscope's TF Serving .proto files (written in proto/ from the wire facts) with
 * protobufjs, once, and exposes the message types the server and the load drivers use.
 */
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { packageRoot } from '../common/package-root.js';

const FILES = ['tensorflow_serving/apis/prediction_service.proto', 'tensorflow_serving/apis/model_service.proto'];

let cached: protobuf.Root | undefined;

/** The protobufjs Root with every TF Serving type leakscope speaks. */
export function tfServingRoot(): protobuf.Root {
  if (cached) return cached;
  const protoDir = join(packageRoot(), 'proto');
  const root = new protobuf.Root();
  // Imports are written relative to proto/; google/protobuf/* come from protobufjs' built-ins.
  root.resolvePath = (_origin, target) => (target.startsWith('google/protobuf/') ? target : join(protoDir, target));
  root.loadSync(FILES, { keepCase: true });
  root.resolveAll();
  cached = root;
  return root;
}

export interface TfTypes {
  readonly PredictRequest: protobuf.Type;
  readonly PredictResponse: protobuf.Type;
  readonly ModelSpec: protobuf.Type;
  readonly TensorProto: protobuf.Type;
  readonly GetModelMetadataRequest: protobuf.Type;
  readonly GetModelMetadataResponse: protobuf.Type;
  readonly SignatureDefMap: protobuf.Type;
  readonly GetModelStatusRequest: protobuf.Type;
  readonly GetModelStatusResponse: protobuf.Type;
  readonly ReloadConfigRequest: protobuf.Type;
  readonly ReloadConfigResponse: protobuf.Type;
  readonly ClassificationRequest: protobuf.Type;
  readonly ClassificationResponse: protobuf.Type;
  readonly RegressionRequest: protobuf.Type;
  readonly RegressionResponse: protobuf.Type;
  readonly MultiInferenceRequest: protobuf.Type;
  readonly MultiInferenceResponse: protobuf.Type;
}

let types: TfTypes | undefined;

export function tfTypes(): TfTypes {
  if (types) return types;
  const r = tfServingRoot();
  const t = (n: string) => r.lookupType(n);
  types = Object.freeze({
    PredictRequest: t('tensorflow.serving.PredictRequest'),
    PredictResponse: t('tensorflow.serving.PredictResponse'),
    ModelSpec: t('tensorflow.serving.ModelSpec'),
    TensorProto: t('tensorflow.TensorProto'),
    GetModelMetadataRequest: t('tensorflow.serving.GetModelMetadataRequest'),
    GetModelMetadataResponse: t('tensorflow.serving.GetModelMetadataResponse'),
    SignatureDefMap: t('tensorflow.serving.SignatureDefMap'),
    GetModelStatusRequest: t('tensorflow.serving.GetModelStatusRequest'),
    GetModelStatusResponse: t('tensorflow.serving.GetModelStatusResponse'),
    ReloadConfigRequest: t('tensorflow.serving.ReloadConfigRequest'),
    ReloadConfigResponse: t('tensorflow.serving.ReloadConfigResponse'),
    ClassificationRequest: t('tensorflow.serving.ClassificationRequest'),
    ClassificationResponse: t('tensorflow.serving.ClassificationResponse'),
    RegressionRequest: t('tensorflow.serving.RegressionRequest'),
    RegressionResponse: t('tensorflow.serving.RegressionResponse'),
    MultiInferenceRequest: t('tensorflow.serving.MultiInferenceRequest'),
    MultiInferenceResponse: t('tensorflow.serving.MultiInferenceResponse'),
  });
  return types;
}
