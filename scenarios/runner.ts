/**
 * `leakscope run`: replays a scenario's phases against a target while sampling it, takes
 * heap snapshots at the named points, and writes the run directory the analyzer reads.
 * A run that is interrupted (Ctrl-C) or whose target dies keeps everything measured and
 * says so in its manifest.
 */
import { existsSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { cpus, hostname, totalmem } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import type { CaptureResult } from '../common/diagnostics-api.js';
import { LsError, toLsError } from '../common/errors.js';
import { formatBytes } from '../common/format-numbers.js';
import type { Mode } from '../common/mode.js';
import type { PhaseRecord, PhaseResult, RunManifest, RunStatus, Sample, SnapshotRecord } from '../common/run-format.js';
import { RUN_FORMAT } from '../common/run-format.js';
import { stamp } from '../common/time-stamp.js';
import { VERSION } from '../common/version.js';
import { writeModelVersions } from '../wire/models/write-models.js';
import { openGrpcChannels } from './grpc-driver.js';
import { inputSpecsFromMetadata, type InputSpec } from './predict-requests.js';
import { startPhaseLoad, type RunningLoad } from './phase-load.js';
import { RunWriter } from './run-writer.js';
import {
  diagnosticsSource,
  inspectorSource,
  procSource,
  prometheusSource,
  Sampler,
  type SampleSource,
} from './samplers.js';
import { applyOverrides, loadScenario, plannedRequests, type ScenarioDef, type ScenarioOverrides } from './scenario.js';
import { clinicWrapper, connectExternal, spawnReferenceServer, type ExternalOptions, type Target } from './targets.js';
import { TfServingClient } from './tf-client.js';

export type TargetChoice =
  | { readonly kind: 'spawn'; readonly mode?: Mode; readonly fixes?: string }
  | ({ readonly kind: 'external' } & ExternalOptions);

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

export interface RunOptions {
  /** Built-in scenario name or a scenario file. */
  readonly scenario: string;
  readonly overrides?: ScenarioOverrides;
  readonly target: TargetChoice;
  /** The run directory; default runs/<scenario>-<mode>-<time>/ under `runsRoot`. */
  readonly out?: string;
  readonly runsRoot?: string;
  /** Heap snapshots at the scenario's points (default on when the target allows them). */
  readonly snapshots?: boolean;
  /** Force a GC before every Nth sample (default from the scenario). */
  readonly gcSettledEvery?: number;
  readonly allocationSampling?: boolean;
  /** Run the spawned server under Clinic.js (doctor | heapprofiler), when it is installed. */
  readonly clinic?: string;
  readonly seed?: number;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: RunProgress) => void;
  readonly onEvent?: (line: string) => void;
}

export interface RunOutcome {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly results: readonly PhaseResult[];
  readonly sampleCount: number;
}

function modeLabel(t: TargetChoice): string {
  if (t.kind === 'external') return t.inspect ? 'inspect' : 'external';
  if (t.fixes !== undefined) return `fixes-${t.fixes.replace(/[^a-z0-9]+/gi, '+') || 'none'}`;
  return t.mode ?? 'patched';
}

async function modelInputs(target: Target, model: string): Promise<InputSpec[] | undefined> {
  if (target.grpc) {
    const c = new TfServingClient(target.grpc);
    try {
      return inputSpecsFromMetadata(await c.metadata({ name: model }));
    } catch (e) {
      throw new LsError(
        'LS_ERR_TARGET',
        `cannot read the metadata of model '${model}' at grpc://${target.grpc}: ${(e as { details?: string }).details ?? (e as Error).message}`,
      );
    } finally {
      c.close();
    }
  }
  if (target.http) {
    const r = await fetch(`${target.http}/v1/models/${encodeURIComponent(model)}/metadata`).catch(() => undefined);
    if (r?.ok) return inputSpecsFromMetadata(await r.json());
  }
  return undefined;
}

/** Takes a heap snapshot of the target's main isolate into the run's snapshots folder. */
async function snapshot(target: Target, writer: RunWriter, label: string): Promise<CaptureResult | undefined> {
  if (target.diagnostics) {
    const { file, bytes, ms } = await target.diagnostics
      .call('heapSnapshot', { label }, 300_000)
      .catch((e: unknown) => {
        throw new LsError('LS_ERR_TARGET', `heap snapshot '${label}' failed: ${(e as Error).message}`, { cause: e });
      });
    return { file, bytes, ms };
  }
  if (target.inspector) {
    const file = join(writer.snapshotsDir, `${label}.heapsnapshot`);
    return { file, ...(await target.inspector.takeHeapSnapshot(file)) };
  }
  return undefined;
}

/**
 * Runs a scenario against a target and writes its run directory. Equals `leakscope run`.
 * @example const { dir } = await runScenario({ scenario: 'shuffled-input', target: { kind: 'spawn', mode: 'leaky' } });
 */
export async function runScenario(o: RunOptions): Promise<RunOutcome> {
  const def: ScenarioDef & { file: string } = applyOverrides(loadScenario(o.scenario), o.overrides ?? {});
  if (o.clinic && o.target.kind !== 'spawn')
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--clinic runs a spawned reference server under Clinic.js; it cannot wrap an external target',
    );
  const started = new Date();
  const runId = `${def.name}-${modeLabel(o.target)}-${stamp(started)}`;
  const dir = resolve(o.out ?? join(o.runsRoot ?? 'runs', runId));
  if (existsSync(dir) && readdirSync(dir).length > 0)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      `--out ${dir}: the folder exists and is not empty; a run never overwrites another`,
    );
  const writer = new RunWriter(dir);
  const emit = o.onEvent ?? (() => undefined);
  const gcEvery = o.gcSettledEvery ?? def.gcSettledEvery;
  const t0 = performance.now();
  const now = () => performance.now() - t0;

  const phases: PhaseRecord[] = [];
  const results: PhaseResult[] = [];
  const snapshots: SnapshotRecord[] = [];
  const heapProfiles: Array<{ file: string; phase: string }> = [];
  const artifacts: Record<string, string> = {};
  let status: RunStatus = 'complete';
  let error: string | undefined;
  let target: Target | undefined;
  let currentPhase = 'start';
  let completedBefore = 0;
  let load: RunningLoad | undefined;

  const manifest = (): RunManifest => ({
    format: RUN_FORMAT,
    tool: { name: 'leakscope', version: VERSION },
    runId,
    scenario: {
      name: def.name,
      file: def.file,
      definition: { ...def, baseDir: undefined, file: undefined } as unknown as Record<string, unknown>,
      parameters: { ...(o.overrides ?? {}), seed: o.seed ?? 1, gcSettledEvery: gcEvery },
    },
    target:
      target?.info ??
      (o.target.kind === 'spawn'
        ? { kind: 'spawned', mode: o.target.mode ?? 'patched', fixes: [], pid: 0, grpc: '', rest: '' }
        : { kind: 'external' }),
    host: {
      cpus: cpus().length,
      memBytes: totalmem(),
      platform: process.platform,
      node: process.version,
      hostname: hostname(),
    },
    startedAt: started.toISOString(),
    endedAt: new Date().toISOString(),
    status,
    ...(error ? { error } : {}),
    sampleIntervalMs: def.sampleIntervalMs,
    phases,
    snapshots,
    heapProfiles,
    ...(Object.keys(artifacts).length ? { artifacts } : {}),
  });

  writer.manifest({
    ...manifest(),
    status: 'interrupted',
    error: 'the run has not finished (still running, or the runner was killed)',
  });
  let sampler: Sampler | undefined;
  try {
    const wantSnapshots = o.snapshots ?? true;
    if (o.target.kind === 'spawn') {
      emit(`starting the reference server (${modeLabel(o.target)})`);
      const clinic = o.clinic ? clinicWrapper(o.clinic, join(dir, 'clinic')) : undefined;
      target = await spawnReferenceServer({
        ...(o.target.fixes !== undefined ? { fixes: o.target.fixes } : { mode: o.target.mode ?? 'patched' }),
        diagnosticsDir: writer.snapshotsDir,
        exposeGc: gcEvery > 0,
        ...def.target,
        ...(clinic ? { wrapper: clinic.wrapper, env: clinic.env } : {}),
      });
    } else {
      target = await connectExternal({
        ...o.target,
        modelName: o.target.modelName ?? def.model,
        expectTfServing: def.phases.some((p) => p.transport === 'grpc'),
      });
    }
    const tgt = target;
    emit(`target: ${JSON.stringify(tgt.info)}`);
    writer.manifest({
      ...manifest(),
      status: 'interrupted',
      error: 'the run has not finished (still running, or the runner was killed)',
    });

    const needsModel = def.phases.some((p) => p.transport === 'grpc' || p.transport === 'rest');
    const inputs = needsModel ? await modelInputs(tgt, tgt.modelName) : undefined;
    const sources: SampleSource[] = [];
    if (tgt.pid !== undefined) sources.push(procSource(tgt.pid));
    if (tgt.diagnostics) sources.push(diagnosticsSource(tgt.diagnostics, tgt.pid === undefined));
    if (tgt.prometheus) sources.push(prometheusSource(tgt.prometheus, tgt.pid === undefined));
    if (tgt.inspector) sources.push(inspectorSource(tgt.inspector));
    sampler = new Sampler({
      sources,
      intervalMs: def.sampleIntervalMs,
      gcSettledEvery: gcEvery,
      now,
      phase: () => currentPhase,
      requests: () => completedBefore + (load?.live.completed ?? 0),
      onSample: (s) => writer.sample(s),
    });
    sampler.start();

    const clients = tgt.grpc ? openGrpcChannels(tgt.grpc, 4) : undefined;
    const progressTimer = setInterval(() => {
      if (!load) return;
      o.onProgress?.({
        phase: currentPhase,
        phaseIndex: phases.length,
        phases: def.phases.length,
        completed: load.live.completed,
        planned: load.planned,
        dropped: load.live.dropped,
        errors: load.live.errors,
        elapsedS: now() / 1000,
      });
    }, 500);
    progressTimer.unref();
    // A target that exits mid-phase ends that phase's load at once.
    let phaseAbort: AbortController | undefined;
    void tgt.exited?.then(() => phaseAbort?.abort());
    try {
      const steadyIdx = def.phases.map((p, i) => (p.steady ? i : -1)).filter((i) => i >= 0);
      // Allocation sampling spans the steady phases, first to last.
      const sampling = (o.allocationSampling ?? def.allocationSampling) && steadyIdx.length > 0;
      for (const [i, p] of def.phases.entries()) {
        if (o.signal?.aborted) break;
        if (!tgt.alive()) break;
        currentPhase = p.name;
        const startMs = now();
        emit(
          `phase ${p.name}: ${plannedRequests(p)} requests at ${p.rate}${p.rateTo ? `→${p.rateTo}` : ''}/s over ${p.transport}`,
        );
        if (sampling && i === steadyIdx[0]) await startAllocationSampling(tgt);
        const abort = new AbortController();
        phaseAbort = abort;
        const onAbort = () => abort.abort();
        o.signal?.addEventListener('abort', onAbort);
        let reloader: NodeJS.Timeout | undefined;
        if (p.reloadEveryS && tgt.modelDir) reloader = startReloader(tgt.modelDir, p.reloadEveryS, emit);
        load = await startPhaseLoad(
          p,
          {
            ...(tgt.grpc ? { grpc: tgt.grpc } : {}),
            ...(tgt.http ? { http: tgt.http } : {}),
            ...(clients ? { grpcClients: clients } : {}),
            model: tgt.modelName,
            ...(inputs ? { inputs } : {}),
            baseDir: def.baseDir,
          },
          abort.signal,
          (o.seed ?? 1) + i,
        );
        const result = await load.done;
        if (reloader) clearInterval(reloader);
        o.signal?.removeEventListener('abort', onAbort);
        results.push(result);
        completedBefore += result.completed;
        load = undefined;
        phases.push({
          name: p.name,
          startMs: Math.round(startMs),
          endMs: Math.round(now()),
          steady: p.steady,
          transport: p.transport,
          load: {
            rate: p.rate,
            ...(p.rateTo ? { rateTo: p.rateTo } : {}),
            ...(p.requests ? { requests: p.requests } : { durationS: p.durationS }),
            maxInflight: p.maxInflight,
            order: p.order,
            ...(p.permutations ? { permutations: p.permutations } : {}),
            batch: p.batch,
          },
        });
        emit(
          `phase ${p.name} done: ${result.completed} completed, ${result.dropped} dropped, ${result.errors} errors; ${Object.entries(
            result.statusCounts,
          )
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')}`,
        );
        if (!tgt.alive()) {
          const x = await tgt.exited;
          status = 'target-died';
          error = `the target exited during phase '${p.name}' (code ${x?.code ?? '?'}, signal ${x?.signal ?? 'none'})`;
          emit(error);
          break;
        }
        if (o.signal?.aborted) {
          status = 'interrupted';
          error = `interrupted during phase '${p.name}'`;
          break;
        }
        if (sampling && i === steadyIdx[steadyIdx.length - 1]) {
          const prof = await stopAllocationSampling(tgt, writer, p.name);
          if (prof) heapProfiles.push({ file: relative(dir, prof), phase: p.name });
        }
        if (p.snapshot && wantSnapshots && (tgt.diagnostics || tgt.inspector)) {
          await sampler.sampleOnce();
          emit(`heap snapshot '${p.snapshot}'…`);
          const tMs = now();
          const s = await snapshot(tgt, writer, p.snapshot);
          if (s) {
            snapshots.push({
              label: p.snapshot,
              file: relative(dir, s.file),
              phase: p.name,
              tMs: Math.round(tMs),
              captureMs: s.ms,
              bytes: s.bytes,
              isolate: 'main',
            });
            emit(`heap snapshot '${p.snapshot}': ${formatBytes(s.bytes)} in ${s.ms} ms`);
          }
        }
      }
      if (o.signal?.aborted && status === 'complete') {
        status = 'interrupted';
        error = 'interrupted before all phases ran';
      }
    } finally {
      clearInterval(progressTimer);
      clients?.forEach((c) => c.close());
      await sampler.stop();
      if (tgt.alive()) await sampler.sampleOnce().catch(() => undefined);
    }
  } catch (e) {
    const err = toLsError(e);
    status = target && !target.alive() ? 'target-died' : 'failed';
    error = err.message;
    await sampler?.stop().catch(() => undefined);
    writer.results(results);
    writer.manifest(manifest());
    await target?.stop().catch(() => undefined);
    throw err;
  }
  writer.results(results);
  await target.stop();
  if (o.clinic) {
    // Clinic.js writes its HTML report beside its data once the server has exited.
    const clinicDir = join(dir, 'clinic');
    const htmlFile = existsSync(clinicDir) ? readdirSync(clinicDir).find((f) => f.endsWith('.html')) : undefined;
    if (htmlFile) artifacts.clinic = relative(dir, join(clinicDir, htmlFile));
    else emit(`Clinic.js wrote no HTML report into ${clinicDir}`);
  }
  const m = manifest();
  writer.manifest(m);
  return { dir, manifest: m, results, sampleCount: writer.sampleCount };
}

async function startAllocationSampling(t: Target): Promise<void> {
  if (t.diagnostics) {
    await t.diagnostics.call('allocationSamplingStart', {}).catch((e: unknown) => {
      throw new LsError('LS_ERR_TARGET', `allocation sampling could not start: ${(e as Error).message}`, { cause: e });
    });
  } else if (t.inspector) await t.inspector.startSampling();
}

async function stopAllocationSampling(t: Target, w: RunWriter, phase: string): Promise<string | undefined> {
  if (t.diagnostics) {
    const { file } = await t.diagnostics
      .call('allocationSamplingStop', { label: phase }, 300_000)
      .catch((e: unknown) => {
        throw new LsError('LS_ERR_TARGET', `allocation sampling could not stop: ${(e as Error).message}`, { cause: e });
      });
    const dest = join(w.profilesDir, basename(file));
    renameSync(file, dest);
    return dest;
  }
  if (t.inspector) {
    const profile = await t.inspector.stopSampling();
    const dest = join(w.profilesDir, `${phase}.heapprofile`);
    writeFileSync(dest, JSON.stringify(profile));
    return dest;
  }
  return undefined;
}

/** The hot-reload scenario: a new version every few seconds; older ones retired from disk. */
function startReloader(modelDir: string, everyS: number, emit: (l: string) => void): NodeJS.Timeout {
  const timer = setInterval(() => {
    const versions = readdirSync(modelDir)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .sort((a, b) => a - b);
    const next = (versions[versions.length - 1] ?? 0) + 1;
    void writeModelVersions(modelDir, { features: 10, versions: [next] }).then(async () => {
      emit(`hot-reload: wrote version ${next}`);
      // Keep the two newest on disk; the server's latest{1} policy has already moved on.
      for (const v of versions.slice(0, -1)) await rm(join(modelDir, String(v)), { recursive: true, force: true });
    });
  }, everyS * 1000);
  timer.unref();
  return timer;
}
