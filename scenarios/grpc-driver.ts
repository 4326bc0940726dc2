/**
 * The open-model gRPC load driver (open-loop.ts) on @grpc/grpc-js: raw request bytes to
 * one unary method path, round-robin over several channels for high rates, answers
 * counted by gRPC code name.
 */
import * as grpc from '@grpc/grpc-js';
import { grpcCodeName, LsError } from '../common/errors.js';
import type { Transport } from '../common/run-format.js';
import {
  checkOpenLoopOptions,
  newLiveCounters,
  type OpenLoopOptions,
  type OpenLoopTransport,
  type Outcome,
  type RunningPhase,
  runOpenLoop,
} from './open-loop.js';

export { newLiveCounters, type LiveCounters, type RunningPhase } from './open-loop.js';

export const PREDICT_PATH = '/tensorflow.serving.PredictionService/Predict';

export interface GrpcPhaseOptions extends OpenLoopOptions {
  /** host:port of the target. Ignored when `clients` is given. */
  readonly address?: string;
  /** Builds request i's bytes (already-encoded protobuf). Keep it cheap: pre-encode. */
  readonly request: (i: number) => Buffer;
  /** Full method path (default TF Serving Predict). */
  readonly path?: string;
  /** Channels to spread calls over, round-robin (default 2). Ignored with `clients`. */
  readonly channels?: number;
  /** Channels the caller owns (reused across phases, not closed here). */
  readonly clients?: readonly grpc.Client[];
  /** Per-call deadline (default 30 000 ms). */
  readonly deadlineMs?: number;
  /** Recorded in the result (default 'grpc'; 'grpc-generic' for non-TF methods). */
  readonly transport?: Transport;
}

const identity = (b: Buffer) => b;
const OK: Outcome = { status: 'OK', isError: false };

/** Unary calls round-robin over the channels, each ending in its gRPC code name. */
function grpcTransport(
  clients: readonly grpc.Client[],
  path: string,
  o: Pick<GrpcPhaseOptions, 'request' | 'deadlineMs' | 'transport'>,
): OpenLoopTransport {
  const deadlineMs = o.deadlineMs ?? 30_000;
  const calls = new Set<grpc.ClientUnaryCall>();
  return {
    name: o.transport ?? 'grpc',
    send(i) {
      const body = o.request(i);
      return new Promise<Outcome>((resolve) => {
        const call = clients[i % clients.length]!.makeUnaryRequest(
          path,
          identity,
          identity,
          body,
          { deadline: Date.now() + deadlineMs },
          (err) => {
            calls.delete(call);
            resolve(err ? { status: grpcCodeName(err.code ?? 2), isError: true } : OK);
          },
        );
        calls.add(call);
      });
    },
    cancelAll() {
      for (const c of calls) c.cancel();
      calls.clear();
    },
  };
}

/**
 * Opens `n` gRPC channels to one address that do not share a connection (grpc-js pools
 * subchannels by default, which would put every "channel" on one HTTP/2 connection).
 * @example const clients = openGrpcChannels('127.0.0.1:8500', 4); ... clients.forEach((c) => c.close());
 */
export function openGrpcChannels(address: string, n: number): grpc.Client[] {
  return Array.from(
    { length: n },
    () =>
      new grpc.Client(address, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.max_receive_message_length': 64 * 1024 * 1024,
      }),
  );
}

function checkOptions(o: GrpcPhaseOptions): void {
  checkOpenLoopOptions(o, 'grpc driver');
  const fail = (field: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `grpc driver: ${field} ${msg}`);
  if (typeof o.request !== 'function') throw fail('request', 'must be a function (i) => Buffer');
  if (!o.clients && !o.address) throw fail('address', 'is required when no clients are given');
  if (o.clients && o.clients.length === 0) throw fail('clients', 'must not be empty');
  for (const [field, v] of [
    ['channels', o.channels],
    ['deadlineMs', o.deadlineMs],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw fail(field, `must be an integer >= 1, got ${v}`);
  }
  if (o.path !== undefined && !/^\/[^/]+\/[^/]+$/.test(o.path))
    throw fail('path', `must look like /package.Service/Method, got ${o.path}`);
}

/**
 * Starts one gRPC load phase; `live` counts as it goes, `done` resolves with the
 * PhaseResult (also after an abort, with what was measured). Equals a `grpc` or
 * `grpc-generic` phase of `leakscope run`.
 *
 * @example
 * const schedule = planArrivals({ kind: 'constant', rate: 200, durationS: 10 });
 * const phase = startGrpcPhase({ name: 'steady', address: '127.0.0.1:8500', schedule, request: reqs.grpc, maxInflight: 64 });
 * setInterval(() => console.log(phase.live.completed), 1000).unref();
 * const result = await phase.done;
 */
export function startGrpcPhase(o: GrpcPhaseOptions): RunningPhase {
  checkOptions(o);
  const live = o.live ?? newLiveCounters();
  const clients = o.clients ?? openGrpcChannels(o.address!, o.channels ?? 2);
  const path = o.path ?? PREDICT_PATH;
  const done = runOpenLoop(o, live, grpcTransport(clients, path, o), 'grpc driver').finally(() => {
    if (!o.clients) for (const c of clients) c.close();
  });
  return { live, done };
}
