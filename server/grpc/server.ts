/**
 * TF Serving's gRPC services on @grpc/grpc-js: PredictionService (Predict,
 * GetModelMetadata; Classify, Regress, MultiInference answer UNIMPLEMENTED) and
 * ModelService (GetModelStatus, HandleReloadConfigRequest). Requests arrive as raw bytes
 * and are decoded in the handler, so malformed protobuf gets INVALID_ARGUMENT with a
 * message rather than grpc-js' generic deserialization failure.
 */
import * as grpc from '@grpc/grpc-js';
import { GrpcCode, grpcCodeName, LsError, toLsError } from '../../common/errors.js';
import { parseModelConfigList } from '../model-config.js';
import { signatureDefProto, statusProto } from '../model-info.js';
import { declareTensorProto, fromTensorProto, toTensorProto, type HostTensor } from '../../wire/tensors.js';
import type { PredictResult } from '../predict.js';
import { versionSpec, type ServiceContext } from '../context.js';
import { decodeMessage, decodePredictRequest, encodeMessage, type ModelSpecMsg } from '../../wire/codec.js';
import { tfTypes } from '../../wire/proto-root.js';
import type { RequestTally } from '../metrics.js';

/** A method's handler; a Predict names its model on `tally` once read (TF Serving's metrics are per model). */
type Handler = (body: Buffer, tally: RequestTally) => Promise<Buffer>;

const identity = (b: Buffer) => b;

function method(service: string, name: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: name,
  };
}

const PREDICTION_SERVICE = 'tensorflow.serving.PredictionService';
const MODEL_SERVICE = 'tensorflow.serving.ModelService';

function specOf(ms: ModelSpecMsg | undefined, where: string) {
  if (!ms) throw new LsError('LS_ERR_INVALID_REQUEST', `${where}: model_spec is missing`);
  const v = ms.version?.value;
  return versionSpec(
    ms.name,
    v === undefined || v === null ? undefined : typeof v === 'object' ? v.toString() : v,
    ms.version_label,
    `${where} model_spec`,
  );
}

function handlers(ctx: ServiceContext) {
  const t = tfTypes();
  const predict: Handler = async (body, tally) => {
    const req = decodePredictRequest(body);
    tally.model = req.model_spec?.name;
    const spec = specOf(req.model_spec, 'PredictRequest');
    // The budget is checked on declared shapes first: one value may fill a whole shape.
    const declared = req.inputs.map(([n, tp]) => declareTensorProto(tp, n));
    const lease = ctx.budget.admit(declared);
    let res: PredictResult;
    try {
      const inputs: Array<readonly [string, HostTensor]> = req.inputs.map(
        ([n, tp], i) => [n, fromTensorProto(tp, n, declared[i])] as const,
      );
      res = await ctx.predictor.predict({
        spec: { ...spec, signatureName: req.model_spec?.signature_name },
        inputs: () => inputs,
        outputFilter: req.output_filter,
      });
    } finally {
      lease.release();
    }
    const outputs: Record<string, unknown> = {};
    for (const [n, tensor] of res.outputs) outputs[n] = toTensorProto(tensor);
    return t.PredictResponse.encode({
      model_spec: { name: res.model, version: { value: res.version }, signature_name: res.signatureName },
      outputs,
    }).finish() as Buffer;
  };
  const getModelMetadata: Handler = async (body) => {
    const req = decodeMessage<{ model_spec?: ModelSpecMsg; metadata_field?: string[] }>(
      t.GetModelMetadataRequest,
      body,
    );
    const spec = specOf(req.model_spec, 'GetModelMetadataRequest');
    const fields = req.metadata_field ?? [];
    if (fields.length === 0)
      throw new LsError(
        'LS_ERR_INVALID_REQUEST',
        'GetModelMetadataRequest must specify at least one metadata_field (supported: signature_def)',
      );
    const unknown = fields.filter((f) => f !== 'signature_def');
    if (unknown.length)
      throw new LsError(
        'LS_ERR_INVALID_REQUEST',
        `metadata_field '${unknown[0]}' is not supported (supported: signature_def)`,
      );
    const s = ctx.repository.peek(spec);
    const map = t.SignatureDefMap.encode(
      t.SignatureDefMap.fromObject({ signature_def: { [s.signature.key]: signatureDefProto(s.signature) } }),
    ).finish();
    return encodeMessage(t.GetModelMetadataResponse, {
      model_spec: {
        name: s.model,
        version: { value: s.version },
        signature_name: req.model_spec?.signature_name ?? '',
      },
      metadata: { signature_def: { type_url: 'type.googleapis.com/tensorflow.serving.SignatureDefMap', value: map } },
    });
  };
  const getModelStatus: Handler = async (body) => {
    const req = decodeMessage<{ model_spec?: ModelSpecMsg }>(t.GetModelStatusRequest, body);
    const spec = specOf(req.model_spec, 'GetModelStatusRequest');
    return encodeMessage(t.GetModelStatusResponse, statusProto(ctx.repository.status(spec)));
  };
  const reload: Handler = async (body) => {
    const req = decodeMessage<{
      config?: { model_config_list?: { config?: unknown[] }; custom_model_config?: unknown };
    }>(t.ReloadConfigRequest, body);
    let status = { error_code: 0, error_message: '' };
    try {
      if (!req.config?.model_config_list) {
        throw new LsError(
          'LS_ERR_INVALID_REQUEST',
          'ReloadConfigRequest: config.model_config_list is required (custom_model_config is not supported)',
        );
      }
      const sources = parseModelConfigList(
        req.config.model_config_list.config ?? [],
        'config.model_config_list.config',
        process.cwd(),
      );
      await ctx.reloadConfig(sources);
    } catch (e) {
      const err = toLsError(e, 'LS_ERR_INVALID_REQUEST');
      status = {
        error_code: err.grpcCode === GrpcCode.INTERNAL ? GrpcCode.INVALID_ARGUMENT : err.grpcCode,
        error_message: err.message,
      };
    }
    return encodeMessage(t.ReloadConfigResponse, { status });
  };
  const unimplemented =
    (name: string): Handler =>
    async () => {
      throw new LsError(
        'LS_ERR_UNIMPLEMENTED',
        `${name} is not implemented by the leakscope reference server; use Predict`,
      );
    };
  return {
    [PREDICTION_SERVICE]: {
      Predict: predict,
      GetModelMetadata: getModelMetadata,
      Classify: unimplemented('Classify'),
      Regress: unimplemented('Regress'),
      MultiInference: unimplemented('MultiInference'),
    },
    [MODEL_SERVICE]: {
      GetModelStatus: getModelStatus,
      HandleReloadConfigRequest: reload,
    },
  } as const;
}

/** Creates (does not bind) the gRPC server with both services. */
export function createGrpcServer(ctx: ServiceContext): grpc.Server {
  const server = new grpc.Server({
    'grpc.max_receive_message_length': ctx.maxMessageBytes,
    'grpc.max_send_message_length': ctx.maxMessageBytes,
  });
  for (const [service, methods] of Object.entries(handlers(ctx))) {
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const impl: grpc.UntypedServiceImplementation = {};
    for (const [name, h] of Object.entries(methods)) {
      definition[name] = method(service, name);
      impl[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const tally = ctx.metrics.begin(name, 'grpc');
        h(call.request, tally).then(
          (res) => {
            const code = call.cancelled ? GrpcCode.CANCELLED : GrpcCode.OK;
            tally.end(grpcCodeName(code), code);
            cb(null, res);
          },
          (e: unknown) => {
            const err = toLsError(e);
            if (err.code === 'LS_ERR_INTERNAL') ctx.log.error({ err: e, method: name }, 'request failed unexpectedly');
            ctx.metrics.countRefusal('grpc', err.code);
            // A client that cancelled is not a server failure: counted as CANCELLED.
            const code = call.cancelled ? GrpcCode.CANCELLED : err.grpcCode;
            tally.end(grpcCodeName(code), code);
            cb({ code: err.grpcCode, details: err.message });
          },
        );
      };
    }
    server.addService(definition, impl);
  }
  return server;
}

/** Binds the server; resolves the bound port (port 0 picks a free one). */
export function bindGrpc(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(
      `${host.includes(':') ? `[${host}]` : host}:${port}`,
      grpc.ServerCredentials.createInsecure(),
      (err, bound) => {
        if (err)
          reject(
            new LsError('LS_ERR_INVALID_OPTION', `--port ${port}: cannot listen on ${host}:${port}: ${err.message}`),
          );
        else resolve(bound);
      },
    );
  });
}
