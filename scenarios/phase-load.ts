/**
 * Turns one scenario phase into a running load: its arrival schedule, its request
 * factory (TF Serving Predict over gRPC or REST with the phase's input-order policy, or a
 * generic HTTP / gRPC request template), and the driver that sends it.
 */
import type * as grpc from '@grpc/grpc-js';
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import type { PhaseResult } from '../common/run-format.js';
import { loadGrpcMethod } from './grpc-generic.js';
import { newLiveCounters, startGrpcPhase, type LiveCounters } from './grpc-driver.js';
import { httpRequestFactory } from './http-templates.js';
import { predictRequests, restPredictPath, type InputSpec, type OrderPolicy } from './predict-requests.js';
import { startRestPhase } from './rest-driver.js';
import { tfRestRequest } from './http-driver.js';
import type { HttpRequestSpec } from './http-templates.js';
import { plannedRequests, type PhaseDef } from './scenario.js';
import { planArrivals, type ArrivalShape } from './schedule.js';

export interface PhaseTarget {
  readonly grpc?: string;
  readonly http?: string;
  readonly grpcClients?: readonly grpc.Client[];
  readonly model: string;
  /** The model's inputs (from its metadata), for TF Serving phases. */
  readonly inputs?: readonly InputSpec[];
  /** Folder relative paths in the scenario file resolve against. */
  readonly baseDir: string;
}

export interface RunningLoad {
  readonly live: LiveCounters;
  readonly planned: number;
  readonly done: Promise<PhaseResult>;
}

function shapeOf(p: PhaseDef): ArrivalShape {
  if (p.rateTo !== undefined)
    return {
      kind: 'ramp',
      fromRate: p.rate,
      toRate: p.rateTo,
      durationS: p.durationS ?? p.requests! / ((p.rate + p.rateTo) / 2),
    };
  return p.requests !== undefined
    ? { kind: 'constant', rate: p.rate, requests: p.requests }
    : { kind: 'constant', rate: p.rate, durationS: p.durationS! };
}

function orderOf(p: PhaseDef): OrderPolicy {
  if (p.order === 'permutations') return { kind: 'permutations', k: p.permutations!, pick: 'round-robin' };
  return { kind: p.order };
}

/**
 * REST and generic HTTP phases go through autocannon, which paces by rate over a pool of
 * connections (closed loop per connection) rather than by planned send times: the phase's
 * in-flight bound becomes the connection count.
 */
function restLoad(
  p: PhaseDef,
  url: string,
  transport: 'rest' | 'http',
  request: (i: number) => HttpRequestSpec,
  signal: AbortSignal,
  live: ReturnType<typeof newLiveCounters>,
): Promise<PhaseResult> {
  return startRestPhase({
    url,
    name: p.name,
    request,
    rate: p.rate,
    ...(p.requests !== undefined ? { requests: p.requests } : { durationS: p.durationS! }),
    connections: Math.max(1, Math.min(p.maxInflight, Math.ceil(p.rate))),
    signal,
    live,
    transport,
  }).done;
}

/** Starts the load of one phase; `done` resolves with its PhaseResult (also after an abort). */
export async function startPhaseLoad(
  p: PhaseDef,
  t: PhaseTarget,
  signal: AbortSignal,
  seed: number,
): Promise<RunningLoad> {
  const where = `phase '${p.name}'`;
  const schedule = planArrivals(shapeOf(p), { arrivals: p.arrivals, seed, where });
  const live = newLiveCounters();
  const common = { name: p.name, schedule, maxInflight: p.maxInflight, signal, live };
  let done: Promise<PhaseResult>;
  switch (p.transport) {
    case 'grpc':
    case 'rest': {
      if (!t.inputs)
        throw new LsError(
          'LS_ERR_BAD_SCENARIO',
          `${where}: a TF Serving phase needs the model's metadata (is the target a TF Serving API?)`,
        );
      const reqs = predictRequests({
        model: { name: t.model },
        inputs: t.inputs,
        order: orderOf(p),
        batch: p.batch,
        seed,
        where,
      });
      if (p.transport === 'grpc') {
        if (!t.grpc)
          throw new LsError(
            'LS_ERR_BAD_SCENARIO',
            `${where}: transport grpc needs a gRPC target (--target grpc://host:port)`,
          );
        done = startGrpcPhase({
          ...common,
          ...(t.grpcClients ? { clients: t.grpcClients } : { address: t.grpc }),
          request: reqs.grpc,
        }).done;
      } else {
        if (!t.http)
          throw new LsError(
            'LS_ERR_BAD_SCENARIO',
            `${where}: transport rest needs an HTTP target (--http http://host:port)`,
          );
        const path = restPredictPath({ name: t.model });
        done = restLoad(p, t.http, 'rest', tfRestRequest(path, reqs.rest), signal, live);
      }
      break;
    }
    case 'http': {
      if (!t.http)
        throw new LsError(
          'LS_ERR_BAD_SCENARIO',
          `${where}: transport http needs an HTTP target (--http http://host:port)`,
        );
      const factory = httpRequestFactory(
        {
          method: p.http!.method,
          path: p.http!.path,
          headers: p.http!.headers,
          ...(p.http!.body !== undefined ? { body: p.http!.body } : {}),
        },
        `${where}.http`,
      );
      done = restLoad(p, t.http, 'http', factory, signal, live);
      break;
    }
    case 'grpc-generic': {
      if (!t.grpc)
        throw new LsError(
          'LS_ERR_BAD_SCENARIO',
          `${where}: transport grpc-generic needs a gRPC target (--target grpc://host:port)`,
        );
      const g = p.grpc!;
      const factory = await loadGrpcMethod(
        { protoFile: join(t.baseDir, g.proto), method: g.method, request: g.request, seed },
        `${where}.grpc`,
      );
      done = startGrpcPhase({
        ...common,
        address: t.grpc,
        path: factory.path,
        request: factory.request,
        transport: 'grpc-generic',
      }).done;
      break;
    }
  }
  return {
    live,
    planned: p.transport === 'grpc' || p.transport === 'grpc-generic' ? schedule.length : plannedRequests(p),
    done,
  };
}
