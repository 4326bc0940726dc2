/**
 * A run's target lifecycle: spawn a reference server (under Clinic.js when asked) or attach
 * to an external one, read the inputs of the model it serves, and stop it when the run ends,
 * collecting the report Clinic.js wrote. targets.ts holds the targets themselves.
 */
import type { Mode } from '../common/mode.js';
import { mkdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LsError } from '../common/errors.js';
import { resolveFixes } from '../common/fixes.js';
import type { ClinicRecord, TargetInfo } from '../common/run-format.js';
import { type ClinicCommand, checkClinicHtml, clinicCommand, clinicHtmlName } from './clinic.js';
import { type InputSpec, inputSpecsFromMetadata } from './predict-requests.js';
import type { ScenarioDef } from './scenario.js';
import { readProcStats } from '../common/proc.js';
import { connectExternal, type ExternalOptions, spawnReferenceServer, stripScheme, type Target } from './targets.js';
import { TfServingClient } from './tf-client.js';

export type TargetChoice =
  | { readonly kind: 'spawn'; readonly mode?: Mode; readonly fixes?: string }
  | ({ readonly kind: 'external' } & ExternalOptions);

/** How a run names its target in the run id: the mode, the fixes, or external/inspect. */
export function modeLabel(t: TargetChoice): string {
  if (t.kind === 'external') return t.inspect ? 'inspect' : 'external';
  if (t.fixes !== undefined) return `fixes-${t.fixes.replace(/[^a-z0-9]+/gi, '+') || 'none'}`;
  return t.mode ?? 'patched';
}

/** What the manifest names as the target before one is attached. */
export function requestedTarget(t: TargetChoice): TargetInfo {
  return t.kind === 'spawn'
    ? { kind: 'spawned', mode: t.mode ?? 'patched', fixes: [], pid: 0, grpc: '', rest: '' }
    : { kind: 'external' };
}

/** host:port with a port from 1 to 65535 (an IPv6 host in brackets). */
const HOST_PORT = /^(\[[0-9a-f:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/i;

/**
 * Checks what can be checked of a target choice before anything is spawned or written: the
 * addresses' forms, that a given pid exists, that Clinic.js is there when asked for. Whether
 * an external target answers is learnt when the run attaches to it (and recorded as a failure).
 * @example checkTargetChoice({ kind: 'external', grpc: 'grpc://127.0.0.1:8500' })
 */
export function checkTargetChoice(t: TargetChoice, clinic?: string): void {
  if (t.kind === 'spawn') {
    // The mode or fix list the server would refuse at start-up (`bogus` in sort-inputs,bogus).
    resolveFixes(t.mode, t.fixes);
    // The output folder is only named here; clinicCommand checks the tool and that Clinic.js is installed.
    if (clinic !== undefined) clinicCommand(clinic, '.');
    return;
  }
  if (t.grpc !== undefined) stripScheme(t.grpc, 'grpc', '--target');
  if (t.http !== undefined) stripScheme(t.http, 'https?', '--http');
  if (t.prometheus !== undefined && !/^https?:\/\/[^/\s]+(\/\S*)?$/.test(t.prometheus))
    throw new LsError('LS_ERR_INVALID_OPTION', `--prometheus: expected http://host:port/path, got '${t.prometheus}'`);
  if (t.inspect !== undefined) {
    const m = HOST_PORT.exec(t.inspect);
    if (!m || Number(m[2]) < 1 || Number(m[2]) > 65535)
      throw new LsError('LS_ERR_INVALID_OPTION', `--inspect: expected host:port, got '${t.inspect}'`);
  }
  if (t.pid !== undefined) {
    if (!Number.isSafeInteger(t.pid) || t.pid < 1)
      throw new LsError('LS_ERR_INVALID_OPTION', `--pid: expected a process id, got ${t.pid}`);
    readProcStats(t.pid); // LS_ERR_TARGET naming the pid when there is no such process
  }
}

export interface AttachOptions {
  readonly def: ScenarioDef;
  /** Where a spawned server writes heap snapshots and allocation profiles. */
  readonly snapshotsDir: string;
  /** Start a spawned server with --expose-gc (GC-settled samples). */
  readonly exposeGc: boolean;
  /** Run a spawned server under Clinic.js (doctor | heapprofiler), writing into `clinicDir`. */
  readonly clinic?: { readonly tool: string; readonly dir: string };
  readonly emit: (line: string) => void;
}

/** Spawns the reference server or connects to an external target, as the run asks. */
export async function attachTarget(choice: TargetChoice, o: AttachOptions): Promise<Target> {
  if (choice.kind === 'spawn') {
    o.emit(`starting the reference server (${modeLabel(choice)})`);
    const clinic = o.clinic ? clinicCommand(o.clinic.tool, o.clinic.dir) : undefined;
    if (clinic) {
      mkdirSync(clinic.cwd, { recursive: true });
      o.emit(`under Clinic.js ${clinic.install.version ?? '(version unknown)'} ${clinic.tool}: ${clinic.install.bin}`);
    }
    const target = await spawnReferenceServer({
      ...(choice.fixes !== undefined ? { fixes: choice.fixes } : { mode: choice.mode ?? 'patched' }),
      diagnosticsDir: o.snapshotsDir,
      exposeGc: o.exposeGc,
      ...o.def.target,
      ...(clinic ? { wrapper: clinic.wrapper, wrapperCwd: clinic.cwd, env: clinic.env } : {}),
    });
    if (clinic) underClinic.set(target, clinic);
    return target;
  }
  return connectExternal({
    ...choice,
    modelName: choice.modelName ?? o.def.model,
    expectTfServing: o.def.phases.some((p) => p.transport === 'grpc'),
  });
}

/** The served model's inputs, from its metadata over gRPC (or REST); undefined when neither answers. */
export async function modelInputs(target: Target, model: string): Promise<InputSpec[] | undefined> {
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

/** The Clinic.js command each spawned target runs under, for stopTarget. */
const underClinic = new WeakMap<Target, ClinicCommand>();

/** What stopping a target left: links to artefacts, and the Clinic.js step when there was one. */
export interface StopOutcome {
  readonly artifacts: Record<string, string>;
  readonly clinic?: ClinicRecord;
}

/**
 * Stops the target. Under Clinic.js, waits for Clinic to finish (targets.ts: bounded), checks
 * its HTML report is whole (clinic.ts) and links it as the `clinic` artefact; a report that
 * is missing or cut short is a `failed` Clinic step with the reason, and a warning emitted.
 */
export async function stopTarget(target: Target, runDir: string, emit: (line: string) => void): Promise<StopOutcome> {
  const clinic = underClinic.get(target);
  if (!clinic) {
    await target.stop();
    return { artifacts: {} };
  }
  const t0 = performance.now();
  const stopped = await target.stop().then(
    () => undefined,
    (e: Error) => e.message,
  );
  const finishS = Math.round((performance.now() - t0) / 100) / 10;
  const exit = await target.exited;
  const file = join(clinic.cwd, clinicHtmlName(target.pid ?? 0, clinic.tool));
  const check = checkClinicHtml(file, clinic.tool);
  const base = {
    tool: clinic.tool,
    ...(clinic.install.version ? { version: clinic.install.version } : {}),
    ...(check.bytes > 0 ? { html: relative(runDir, file), bytes: check.bytes } : {}),
    finishS,
  };
  if (stopped === undefined && check.ok) {
    emit(`Clinic.js ${clinic.tool} report (${check.bytes} bytes, ${finishS} s after the server stopped): ${file}`);
    return { artifacts: { clinic: relative(runDir, file) }, clinic: { ...base, status: 'complete' } };
  }
  const how =
    exit && (exit.code !== 0 || exit.signal) ? ` (Clinic.js exited with ${exit.signal ?? `code ${exit.code}`})` : '';
  const tail = target.stderrTail?.().trim().split('\n').slice(-3).join(' | ');
  const error = `${stopped ?? (check.ok ? '' : check.reason)}${how}${tail ? `; its last output: ${tail}` : ''}`;
  emit(`WARNING: the Clinic.js ${clinic.tool} step failed, no report is linked: ${error}`);
  return { artifacts: {}, clinic: { ...base, status: 'failed', error } };
}
