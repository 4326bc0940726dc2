/**
 * Benchmark floor (not part of leakscope): the bare grpc-js Predict handler of
 * bare-grpc-server.ts with one thing added, the hop the reference server's design needs —
 * the model runs on a worker thread, not on the thread that serves gRPC (leak 2's subject:
 * one handler thread per request in flight). Done the cheapest plain way: the main thread
 * moves the raw request bytes to an idle worker (postMessage, transferred), the worker
 * decodes, runs the same onnxruntime session the same way and encodes the answer, and posts
 * the answer's bytes back; idle workers are a stack, each holds one request at a time, and a
 * new worker starts when none is idle (at most MAX, default 16; past it requests wait).
 * What this costs over bare-grpc-server.ts is what the hop alone costs.
 * Usage: node bare-grpc-hop-server.js MODEL.onnx [MAX]
 */
import * as grpc from '@grpc/grpc-js';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import ort from 'onnxruntime-node';
import { formatListening } from '../../common/listening-event.js';
import { ORT_SESSION_OPTIONS } from '../../server/ort-options.js';
import { bindLoopback, rawUnaryMethod } from '../helpers/trivial-grpc-server.js';
import { barePredict } from './bare-predict.js';

interface Job {
  readonly bytes: Uint8Array;
  readonly cb: grpc.sendUnaryData<Buffer>;
}

if (isMainThread) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: bare-grpc-hop-server MODEL.onnx [MAX]');
  const max = Number(process.argv[3] ?? 16);
  if (!Number.isInteger(max) || max < 1) throw new Error(`MAX must be a positive integer, got ${process.argv[3]}`);
  const idle: Worker[] = [];
  const queue: Job[] = [];
  const busy = new Map<Worker, Job>();
  let started = 0;
  const give = (w: Worker, job: Job) => {
    busy.set(w, job);
    // The request's bytes copied into a buffer of their own (grpc-js' may be shared), moved to the worker.
    const bytes = new Uint8Array(job.bytes);
    w.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
  };
  const start = (): Worker => {
    started++;
    const w = new Worker(new URL(import.meta.url), { workerData: file });
    w.on('message', (m: Uint8Array | { error: string } | 'up') => {
      if (m === 'up') return;
      const job = busy.get(w)!;
      busy.delete(w);
      if (m instanceof Uint8Array) job.cb(null, Buffer.from(m.buffer, m.byteOffset, m.byteLength));
      else job.cb({ code: grpc.status.INTERNAL, details: m.error });
      const next = queue.shift();
      if (next) give(w, next);
      else idle.push(w);
    });
    w.on('error', (e) => {
      process.stderr.write(`bare-grpc-hop-server: worker failed: ${e.message}\n`);
      process.exit(1);
    });
    return w;
  };
  // One worker up before serving, as the reference server prestarts its pollers.
  await new Promise<void>((resolve) => {
    const w = start();
    w.once('message', () => {
      idle.push(w);
      resolve();
    });
  });
  const server = new grpc.Server();
  server.addService(
    { Predict: rawUnaryMethod('/tensorflow.serving.PredictionService/Predict') },
    {
      Predict: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        const job = { bytes: call.request, cb };
        const w = idle.pop() ?? (started < max ? start() : undefined);
        if (w) give(w, job);
        else queue.push(job);
      },
    },
  );
  process.stdout.write(formatListening({ grpc: await bindLoopback(server) }));
  process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
} else {
  const session = await ort.InferenceSession.create(workerData as string, { ...ORT_SESSION_OPTIONS });
  const port = parentPort!;
  port.postMessage('up');
  port.on('message', (bytes: Uint8Array) =>
    barePredict(session, bytes, (e, res) => {
      if (e) return port.postMessage({ error: e.message });
      // Copied out of protobufjs' buffer (it may be a slice of a shared pool), then moved.
      const own = new Uint8Array(res!);
      port.postMessage(own, [own.buffer as ArrayBuffer]);
    }),
  );
}
