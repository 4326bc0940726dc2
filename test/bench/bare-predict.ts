/**
 * The benchmark baselines' Predict (not part of leakscope): decode the request, run the
 * onnxruntime session through its public API, encode the answer — the least a Predict server
 * does. bare-grpc-server.ts calls it on the thread that serves gRPC, bare-grpc-hop-server.ts
 * on a worker thread.
 */
import type ort from 'onnxruntime-node';
import { fromOrt, toOrt } from '../../server/inference.js';
import { tfTypes } from '../../wire/proto-root.js';
import { fromTensorProto, toTensorProto, type TensorProtoLike } from '../../wire/tensors.js';

/** Answers one PredictRequest's bytes with the PredictResponse's bytes (protobufjs' buffer), or the run's error. */
export function barePredict(
  session: ort.InferenceSession,
  bytes: Uint8Array,
  answer: (err: Error | null, res?: Uint8Array) => void,
): void {
  const t = tfTypes();
  const req = t.PredictRequest.decode(bytes) as unknown as { inputs: Record<string, TensorProtoLike> };
  const feeds: Record<string, ort.Tensor> = {};
  for (const [n, tp] of Object.entries(req.inputs)) feeds[n] = toOrt(fromTensorProto(tp, n));
  session.run(feeds).then(
    (out) => {
      const outputs: Record<string, unknown> = {};
      for (const [n, v] of Object.entries(out)) outputs[n] = toTensorProto(fromOrt(v as ort.Tensor));
      answer(null, t.PredictResponse.encode({ model_spec: { name: 'ctr', version: { value: 1 } }, outputs }).finish());
    },
    (e: Error) => answer(e),
  );
}
