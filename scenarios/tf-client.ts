/**
 * A TF Serving gRPC client on @grpc/grpc-js, for load drivers, tests and benchmarks. It
 * encodes PredictRequest by hand so that `inputs` go on the wire in exactly the order
 * given (the order a real client's map iteration would produce), and can send raw bytes.
 */
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { decodeMessage, encodeMessage } from '../wire/codec.js';
import { tfTypes } from '../wire/proto-root.js';
import { toTensorProto, type HostTensor, type TensorProtoLike } from '../wire/tensors.js';

export interface ModelSpecInput {
  readonly name: string;
  readonly version?: number;
  readonly label?: string;
  readonly signatureName?: string;
}

const identity = (b: Buffer) => b;

function specObject(s: ModelSpecInput): Record<string, unknown> {
  return {
    name: s.name,
    ...(s.version !== undefined ? { version: { value: s.version } } : {}),
    ...(s.label !== undefined ? { version_label: s.label } : {}),
    ...(s.signatureName !== undefined ? { signature_name: s.signatureName } : {}),
  };
}

/**
 * Encodes a PredictRequest with inputs in the given order.
 * @example encodePredictRequest({ name: 'ctr' }, [['user_age', tensor]], [], 'content')
 */
export function encodePredictRequest(
  spec: ModelSpecInput,
  inputs: ReadonlyArray<readonly [string, HostTensor | TensorProtoLike]>,
  outputFilter: readonly string[] = [],
  encoding: 'typed' | 'content' = 'typed',
): Buffer {
  const { head, entries } = encodePredictParts(spec, inputs, encoding);
  const w = protobuf.Writer.create();
  for (const o of outputFilter) w.uint32((3 << 3) | 2).string(o);
  return Buffer.concat([head, ...entries, w.finish()]);
}

/**
 * A PredictRequest in parts that concatenate into the message: the model_spec field, then one
 * `inputs` map entry per input. Concatenated in another order they are the same request with
 * its inputs on the wire in that order — what a shuffled-input load sends, without encoding
 * the tensors again per request.
 */
export function encodePredictParts(
  spec: ModelSpecInput,
  inputs: ReadonlyArray<readonly [string, HostTensor | TensorProtoLike]>,
  encoding: 'typed' | 'content' = 'typed',
): { head: Buffer; entries: Buffer[] } {
  const t = tfTypes();
  const head = protobuf.Writer.create();
  t.ModelSpec.encode(t.ModelSpec.fromObject(specObject(spec)), head.uint32((1 << 3) | 2).fork()).ldelim();
  const entries = inputs.map(([name, v]) => {
    const tp = 'data' in v && 'dims' in v ? toTensorProto(v as HostTensor, encoding) : (v as TensorProtoLike);
    const w = protobuf.Writer.create();
    w.uint32((2 << 3) | 2).fork();
    w.uint32((1 << 3) | 2).string(name);
    t.TensorProto.encode(tp as protobuf.Message, w.uint32((2 << 3) | 2).fork()).ldelim();
    w.ldelim();
    return w.finish() as Buffer;
  });
  return { head: head.finish() as Buffer, entries };
}

export interface PredictOutput {
  readonly model_spec?: { name?: string; version?: { value?: number }; signature_name?: string };
  readonly outputs: Record<
    string,
    TensorProtoLike & { dtype?: number; tensor_shape?: { dim?: Array<{ size?: number }> } }
  >;
}

export class TfServingClient {
  readonly client: grpc.Client;
  constructor(address: string, options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure(), options);
  }

  /** Sends raw request bytes to a method path, resolving the raw response bytes. */
  raw(path: string, body: Buffer, deadlineMs = 30_000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      this.client.makeUnaryRequest(path, identity, identity, body, { deadline: Date.now() + deadlineMs }, (err, res) =>
        err ? reject(err) : resolve(res!),
      );
    });
  }

  async predictRaw(body: Buffer, deadlineMs?: number): Promise<PredictOutput> {
    const res = await this.raw('/tensorflow.serving.PredictionService/Predict', body, deadlineMs);
    return decodeMessage<PredictOutput>(tfTypes().PredictResponse, res);
  }

  predict(
    spec: ModelSpecInput,
    inputs: ReadonlyArray<readonly [string, HostTensor | TensorProtoLike]>,
    outputFilter: readonly string[] = [],
    encoding: 'typed' | 'content' = 'typed',
  ) {
    return this.predictRaw(encodePredictRequest(spec, inputs, outputFilter, encoding));
  }

  async metadata(spec: ModelSpecInput, fields: string[] = ['signature_def']) {
    const t = tfTypes();
    const res = await this.raw(
      '/tensorflow.serving.PredictionService/GetModelMetadata',
      encodeMessage(t.GetModelMetadataRequest, { model_spec: specObject(spec), metadata_field: fields }),
    );
    const msg = decodeMessage<{
      model_spec?: { name?: string; version?: { value?: number } };
      metadata?: Record<string, { type_url?: string; value?: Uint8Array }>;
    }>(t.GetModelMetadataResponse, res);
    const any = msg.metadata?.signature_def;
    const sigs = any?.value
      ? decodeMessage<{ signature_def?: Record<string, unknown> }>(t.SignatureDefMap, any.value)
      : {};
    return { modelSpec: msg.model_spec, typeUrl: any?.type_url, signatureDefs: sigs.signature_def ?? {} };
  }

  async status(spec: ModelSpecInput) {
    const t = tfTypes();
    const res = await this.raw(
      '/tensorflow.serving.ModelService/GetModelStatus',
      encodeMessage(t.GetModelStatusRequest, { model_spec: specObject(spec) }),
    );
    return decodeMessage<{
      model_version_status?: Array<{
        version?: number;
        state?: number;
        status?: { error_code?: number; error_message?: string };
      }>;
    }>(t.GetModelStatusResponse, res);
  }

  async reloadConfig(configs: Array<Record<string, unknown>>) {
    const t = tfTypes();
    const res = await this.raw(
      '/tensorflow.serving.ModelService/HandleReloadConfigRequest',
      encodeMessage(t.ReloadConfigRequest, { config: { model_config_list: { config: configs } } }),
    );
    return decodeMessage<{ status?: { error_code?: number; error_message?: string } }>(t.ReloadConfigResponse, res);
  }

  close(): void {
    this.client.close();
  }
}
