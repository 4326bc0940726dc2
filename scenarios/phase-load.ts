/**
 * Turns one scenario phase into a running load: its arrival schedule, its request
 * factory (TF Serving Predict over gRPC or REST with the phase's input-order policy, or a
 * generic HTTP / gRPC request template), and the driver that sends it: the open-model
 * loop for every transport, or autocannon's closed loop for an HTTP phase with
 * `connections`.
 */
import type * as grpc from '@grpc/grpc-js';
import type { Pool } from 'undici';
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import type { PhaseResult } from '../common/run-format.js';
import { loadGrpcMethod } from './grpc-generic.js';
import { newLiveCounters, startGrpcPhase, type LiveCounters } from './grpc-driver.js';
import { startHttpPhase, tfRestRequest } from './http-driver.js';
import { httpRequestFactory } from './http-templates.js';
import { predictRequests, restPredictPath, type InputSpec, type OrderPolicy } from './predict-requests.js';
import { startRestPhase } from './rest-driver.js';
import type { HttpRequestSpec } from './http-templates.js';
import type { PhaseDef } from './scenario.js';
import { planArrivals, type ArrivalShape } from './schedule.js';

export interface PhaseTarget {
  readonly grpc?: string;
  readonly http?: string;
  readonly grpcClients?: readonly grpc.Client[];
  /** One HTTP pool for the run's open-model HTTP phases (its connections outlive a phase). */
  readonly httpPool?: Pool;
  readonly model: string;
  /** The model's inputs (from its metadata), for TF Serving phases. */
  readonly inputs?: readonly InputSpec[];
  /** Folder relative paths in the scenario file resolve against. */
  readonly baseDir: string;
  /** Requests planned (or sent, if more) by the run's earlier phases: the run-wide index `{{n}}` starts here. */
  readonly requestIndexBase?: number;
}

export interface RunningLoad {
  readonly live: LiveCounters;
  readonly planned: number;
  readonly done: Promise<PhaseResult>;
}

function shapeOf(p: PhaseDef & { rate: number }): ArrivalShape {
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

/** A closed-loop phase (`connections`): autocannon, each connection sending again once answered. */
function closedLoad(
  p: PhaseDef,
  url: string,
  transport: 'rest' | 'http',
  request: (i: number) => HttpRequestSpec,
  signal: AbortSignal,
  live: LiveCounters,
): Promise<PhaseResult> {
  return startRestPhase({
    url,
    name: p.name,
    request,
    ...(p.rate !== undefined ? { rate: p.rate } : {}),
    ...(p.requests !== undefined ? { requests: p.requests } : { durationS: p.durationS! }),
    connections: p.connections!,
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
  const live = newLiveCounters();
  // Every open-model phase, whatever its transport, sends on this one schedule.
  const schedule =
    p.rate !== undefined && p.connections === undefined
      ? planArrivals(shapeOf({ ...p, rate: p.rate }), { arrivals: p.arrivals, seed, where })
      : undefined;
  const common = { name: p.name, schedule: schedule!, maxInflight: p.maxInflight, signal, live };
  const httpPhase = (url: string, transport: 'rest' | 'http', request: (i: number) => HttpRequestSpec) =>
    schedule
      ? startHttpPhase({ ...common, url, request, transport, ...(t.httpPool ? { pool: t.httpPool } : {}) }).done
      : closedLoad(p, url, transport, request, signal, live);
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
        done = httpPhase(t.http, 'rest', tfRestRequest(restPredictPath({ name: t.model }), reqs.rest));
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
          indexBase: t.requestIndexBase ?? 0,
        },
        `${where}.http`,
      );
      done = httpPhase(t.http, 'http', factory);
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
        {
          protoFile: join(t.baseDir, g.proto),
          method: g.method,
          request: g.request,
          seed,
          indexBase: t.requestIndexBase ?? 0,
        },
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
  // A closed loop for a duration plans nothing: its progress counts against what it sent.
  return { live, planned: schedule?.length ?? p.requests ?? 0, done };
}
