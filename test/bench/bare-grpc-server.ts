/**
 * Benchmark baseline (not part of leakscope): the least a gRPC Predict server can do — a
 * grpc-js handler that decodes the request, calls one onnxruntime session directly and
 * encodes the answer (bare-predict.ts). Started as a child process by server.bench.ts; prints its port.
 * Usage: node bare-grpc-server.js MODEL.onnx
 */
import * as grpc from '@grpc/grpc-js';
import ort from 'onnxruntime-node';
import { formatListening } from '../../common/listening-event.js';
import { ORT_SESSION_OPTIONS } from '../../server/repository.js';
import { bindLoopback, rawUnaryMethod } from '../helpers/trivial-grpc-server.js';
import { barePredict } from './bare-predict.js';

const file = process.argv[2];
if (!file) throw new Error('usage: bare-grpc-server MODEL.onnx');
const session = await ort.InferenceSession.create(file, { ...ORT_SESSION_OPTIONS });
const server = new grpc.Server();
server.addService(
  { Predict: rawUnaryMethod('/tensorflow.serving.PredictionService/Predict') },
  {
    Predict: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      barePredict(session, call.request, (e, res) =>
        e ? cb({ code: grpc.status.INTERNAL, details: e.message }) : cb(null, res as Buffer),
      ),
  },
);
process.stdout.write(formatListening({ grpc: await bindLoopback(server) }));
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
