/**
 * Benchmark baseline (not part of leakscope): the least a gRPC Predict server can do — a
 * grpc-js handler that decodes the request, calls one onnxruntime session directly and
 * encodes the answer. Started as a child process by server.bench.ts; prints its port.
 * Usage: node bare-grpc-server.js MODEL.onnx
 */
import * as grpc from '@grpc/grpc-js';
import ort from 'onnxruntime-node';
import { formatListening } from '../../common/listening-event.js';
import { tfTypes } from '../../wire/proto-root.js';
import { fromOrt, toOrt } from '../../server/inference.js';
import { ORT_SESSION_OPTIONS } from '../../server/repository.js';
import { fromTensorProto, toTensorProto, type TensorProtoLike } from '../../wire/tensors.js';
import { bindLoopback, rawUnaryMethod } from '../helpers/trivial-grpc-server.js';

const file = process.argv[2];
if (!file) throw new Error('usage: bare-grpc-server MODEL.onnx');
const session = await ort.InferenceSession.create(file, { ...ORT_SESSION_OPTIONS });
const t = tfTypes();
const server = new grpc.Server();
server.addService(
  { Predict: rawUnaryMethod('/tensorflow.serving.PredictionService/Predict') },
  {
    Predict: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const req = t.PredictRequest.decode(call.request) as unknown as { inputs: Record<string, TensorProtoLike> };
      const feeds: Record<string, ort.Tensor> = {};
      for (const [n, tp] of Object.entries(req.inputs)) feeds[n] = toOrt(fromTensorProto(tp, n));
      session.run(feeds).then(
        (out) => {
          const outputs: Record<string, unknown> = {};
          for (const [n, v] of Object.entries(out)) outputs[n] = toTensorProto(fromOrt(v as ort.Tensor));
          cb(
            null,
            t.PredictResponse.encode({
              model_spec: { name: 'ctr', version: { value: 1 } },
              outputs,
            }).finish() as Buffer,
          );
        },
        (e: Error) => cb({ code: grpc.status.INTERNAL, details: e.message }),
      );
    },
  },
);
process.stdout.write(formatListening({ grpc: await bindLoopback(server) }));
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
