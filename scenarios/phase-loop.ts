/**
 * A run's phase loop: each phase of the scenario in turn, its load against the target (a hot
 * reloader beside it when the phase asks), its record and results, the captures due before and
 * after it, and progress twice a second. The loop ends early, saying why in the run's record,
 * when the target dies or the run is interrupted.
 */
import type { PhaseRecord, PhaseResult, Sample } from '../common/run-format.js';
import { openGrpcChannels } from './grpc-driver.js';
import { openHttpPool } from './http-driver.js';
import { HotReloader } from './hot-reloader.js';
import { type RunningLoad, startPhaseLoad } from './phase-load.js';
import type { InputSpec } from './predict-requests.js';
import type { Captures } from './run-captures.js';
import type { RunRecord } from './run-record.js';
import { type PhaseDef, plannedRequests, type ScenarioDef } from './scenario.js';
import type { Target } from './targets.js';

export interface RunProgress {
  readonly phase: string;
  readonly phaseIndex: number;
  readonly phases: number;
  readonly completed: number;
  readonly planned: number;
  readonly dropped: number;
  readonly errors: number;
  readonly elapsedS: number;
  readonly last?: Sample;
}

/** Where the run is: the phase under way, its load, and the requests completed so far. */
export class PhaseCursor {
  phase = 'start';
  load: RunningLoad | undefined;
  private completedBefore = 0;

  /** Requests completed since the run started (the samples' request clock). */
  requests(): number {
    return this.completedBefore + (this.load?.live.completed ?? 0);
  }

  /** A phase's load has ended with `result`. */
  ended(result: PhaseResult): void {
    this.completedBefore += result.completed;
    this.load = undefined;
  }
}

export interface PhaseLoopOptions {
  readonly def: ScenarioDef;
  readonly target: Target;
  /** The served model's inputs (gRPC and REST phases). */
  readonly inputs: readonly InputSpec[] | undefined;
  /** The captures due around each phase (run-captures.ts). */
  readonly captures: Pick<Captures, 'beforePhase' | 'afterPhase' | 'lastSample'>;
  readonly record: RunRecord;
  readonly cursor: PhaseCursor;
  /** Phase i draws its load with seed + i. */
  readonly seed: number;
  readonly signal?: AbortSignal;
  /** ms since the run started. */
  readonly now: () => number;
  readonly emit: (line: string) => void;
  readonly onProgress?: (p: RunProgress) => void;
  /** Called whenever `record` changes (a phase starts or ends), to write the manifest. */
  readonly checkpoint?: () => void;
}

/** Runs the scenario's phases against the target, recording each in `record`. */
export async function runPhases(o: PhaseLoopOptions): Promise<void> {
  const { def, target, record, cursor, signal, emit } = o;
  const clients = target.grpc ? openGrpcChannels(target.grpc, 4) : undefined;
  // One HTTP pool for the run, as the gRPC channels are: a pool per phase closed its
  // connections at every phase's end, and the target's open fds and their sockets' heap
  // (~2–5 KiB each on the corpus programs) then rose again inside each steady phase — growth
  // a fit per segment reads as a trend.
  const httpPool = target.http
    ? openHttpPool(target.http, Math.max(...def.phases.map((p) => p.maxInflight)))
    : undefined;
  const progressTimer = setInterval(() => {
    const load = cursor.load;
    if (!load) return;
    const last = o.captures.lastSample();
    o.onProgress?.({
      phase: cursor.phase,
      phaseIndex: record.phases.length,
      phases: def.phases.length,
      completed: load.live.completed,
      planned: load.planned,
      dropped: load.live.dropped,
      errors: load.live.errors,
      elapsedS: o.now() / 1000,
      ...(last ? { last } : {}),
    });
  }, 500);
  progressTimer.unref();
  // A target that exits mid-phase ends that phase's load at once.
  let phaseAbort: AbortController | undefined;
  void target.exited?.then(() => phaseAbort?.abort());
  try {
    for (const [i, p] of def.phases.entries()) {
      if (signal?.aborted) break;
      if (!target.alive()) break;
      const startMs = o.now();
      // In the manifest before any sample names it: a killed runner leaves the phase listed, open.
      record.phases.push({ ...phaseRecord(p, startMs, startMs), open: true });
      o.checkpoint?.();
      cursor.phase = p.name;
      emit(`phase ${p.name}: ${loadLine(p)} over ${p.transport}`);
      await o.captures.beforePhase(i, p);
      const abort = new AbortController();
      phaseAbort = abort;
      const onAbort = () => abort.abort();
      signal?.addEventListener('abort', onAbort);
      const reloader =
        p.reloadEveryS && target.modelDir ? HotReloader.start(target.modelDir, p.reloadEveryS, emit) : undefined;
      cursor.load = await startPhaseLoad(
        p,
        {
          ...(target.grpc ? { grpc: target.grpc } : {}),
          ...(target.http ? { http: target.http } : {}),
          ...(clients ? { grpcClients: clients } : {}),
          ...(httpPool ? { httpPool } : {}),
          model: target.modelName,
          ...(o.inputs ? { inputs: o.inputs } : {}),
          baseDir: def.baseDir,
          // Request i of a phase is its schedule's i (a dropped request keeps its index).
          requestIndexBase: record.results.reduce((a, r) => a + Math.max(r.planned, r.sent), 0),
        },
        abort.signal,
        o.seed + i,
      );
      const result = await cursor.load.done;
      const reloaded = reloader?.stop();
      signal?.removeEventListener('abort', onAbort);
      record.results.push(result);
      cursor.ended(result);
      record.phases[record.phases.length - 1] = phaseRecord(p, startMs, o.now());
      o.checkpoint?.();
      await reloaded;
      emit(
        `phase ${p.name} done: ${result.completed} completed, ${result.dropped} dropped, ${result.errors} errors; ${Object.entries(
          result.statusCounts,
        )
          .map(([k, v]) => `${k} ${v}`)
          .join(', ')}`,
      );
      // An interrupted run stays interrupted even when the stop took the target down (a second Ctrl-C).
      if (signal?.aborted) {
        record.status = 'interrupted';
        record.error = `interrupted during phase '${p.name}'`;
        break;
      }
      if (!target.alive()) {
        const x = await target.exited;
        record.status = 'target-died';
        record.error = `the target exited during phase '${p.name}' (code ${x?.code ?? '?'}, signal ${x?.signal ?? 'none'})`;
        emit(record.error);
        break;
      }
      await o.captures.afterPhase(i, p);
    }
    if (signal?.aborted && record.status === 'complete') {
      record.status = 'interrupted';
      record.error = 'interrupted before all phases ran';
    }
  } finally {
    clearInterval(progressTimer);
    clients?.forEach((c) => c.close());
    await httpPool?.destroy();
  }
}

/** "600 requests at 200→400/s", or "closed loop on 8 connections for 10 s". */
function loadLine(p: PhaseDef): string {
  if (p.connections !== undefined)
    return `closed loop on ${p.connections} connections for ${p.requests !== undefined ? `${p.requests} requests` : `${p.durationS} s`}${p.rate !== undefined ? ` (at most ${p.rate}/s)` : ''}`;
  return `${plannedRequests(p)} requests at ${p.rate}${p.rateTo ? `→${p.rateTo}` : ''}/s`;
}

function phaseRecord(p: PhaseDef, startMs: number, endMs: number): PhaseRecord {
  return {
    name: p.name,
    startMs: Math.round(startMs),
    endMs: Math.round(endMs),
    steady: p.steady,
    transport: p.transport,
    load: {
      ...(p.rate !== undefined ? { rate: p.rate } : {}),
      ...(p.rateTo ? { rateTo: p.rateTo } : {}),
      ...(p.connections !== undefined ? { connections: p.connections } : {}),
      ...(p.requests ? { requests: p.requests } : { durationS: p.durationS }),
      maxInflight: p.maxInflight,
      order: p.order,
      ...(p.permutations ? { permutations: p.permutations } : {}),
      batch: p.batch,
    },
  };
}
