/**
 * Wire codecs for the gRPC services. PredictRequest is decoded by hand around protobufjs
 * so that the `inputs` map entries keep the order they had on the wire: protobuf leaves
 * map order unspecified, clients vary it, and the executor-cache leak depends on it.
 */
import protobuf from 'protobufjs';
import { LsError } from '../common/errors.js';
import type { TensorProtoLike } from './tensors.js';
import { tfTypes } from './proto-root.js';

export interface ModelSpecMsg {
  name?: string;
  version?: { value?: number | string | { toString(): string } } | null;
  version_label?: string;
  signature_name?: string;
}

export interface DecodedPredictRequest {
  readonly model_spec: ModelSpecMsg | undefined;
  /** Map entries in wire order; a repeated key keeps its first position and its last value. */
  readonly inputs: Array<[string, TensorProtoLike]>;
  readonly output_filter: string[];
}

const malformed = (what: string, e: unknown) =>
  new LsError('LS_ERR_MALFORMED', `malformed ${what}: ${(e as Error).message ?? String(e)}`);

/**
 * Decodes PredictRequest bytes, keeping input order.
 * @example decodePredictRequest(PredictRequest.encode(msg).finish()).inputs.map(([k]) => k)
 */
export function decodePredictRequest(buf: Uint8Array): DecodedPredictRequest {
  const t = tfTypes();
  const r = protobuf.Reader.create(buf);
  let model_spec: ModelSpecMsg | undefined;
  const inputs: Array<[string, TensorProtoLike]> = [];
  const pos = new Map<string, number>();
  const output_filter: string[] = [];
  try {
    while (r.pos < r.len) {
      const tag = r.uint32();
      const field = tag >>> 3;
      const wire = tag & 7;
      if (field === 1 && wire === 2) {
        model_spec = t.ModelSpec.decode(r, r.uint32()) as unknown as ModelSpecMsg;
      } else if (field === 2 && wire === 2) {
        const end = r.uint32() + r.pos;
        let key = '';
        let value: TensorProtoLike = {};
        while (r.pos < end) {
          const et = r.uint32();
          if (et >>> 3 === 1 && (et & 7) === 2) key = r.string();
          else if (et >>> 3 === 2 && (et & 7) === 2)
            value = t.TensorProto.decode(r, r.uint32()) as unknown as TensorProtoLike;
          else r.skipType(et & 7);
        }
        if (r.pos !== end) throw new Error('map entry overruns its length');
        const at = pos.get(key);
        if (at === undefined) {
          pos.set(key, inputs.length);
          inputs.push([key, value]);
        } else {
          inputs[at] = [key, value];
        }
      } else if (field === 3 && wire === 2) {
        output_filter.push(r.string());
      } else {
        r.skipType(wire);
      }
    }
    if (r.pos !== r.len) throw new Error('message overruns the buffer');
  } catch (e) {
    throw malformed('PredictRequest', e);
  }
  return { model_spec, inputs, output_filter };
}

/** Decodes any request message of the catalogue, mapping protobuf errors to INVALID_ARGUMENT. */
export function decodeMessage<T>(type: protobuf.Type, buf: Uint8Array): T {
  let msg: protobuf.Message;
  try {
    msg = type.decode(buf);
  } catch (e) {
    throw malformed(type.name, e);
  }
  return type.toObject(msg, {
    longs: Number,
    enums: Number,
    defaults: false,
    arrays: true,
    objects: true,
    oneofs: false,
  }) as T;
}

/** Encodes a plain object as the given message type (after checking it fits). */
export function encodeMessage(type: protobuf.Type, obj: Record<string, unknown>): Buffer {
  return type.encode(type.fromObject(obj)).finish() as Buffer;
}
