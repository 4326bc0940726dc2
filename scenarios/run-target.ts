/**
 * A run's target lifecycle: spawn a reference server (under Clinic.js when asked) or attach
 * to an external one, read the inputs of the model it serves, and stop it when the run ends,
 * collecting the report Clinic.js wrote. targets.ts holds the targets themselves.
 */
import type { Mode } from '../common/mode.js';
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { LsError } from '../common/errors.js';
import type { TargetInfo } from '../common/run-format.js';
import { type InputSpec, inputSpecsFromMetadata } from './predict-requests.js';
import type { ScenarioDef } from './scenario.js';
import { clinicWrapper, connectExternal, type ExternalOptions, spawnReferenceServer, type Target } from './targets.js';
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
    const clinic = o.clinic ? clinicWrapper(o.clinic.tool, o.clinic.dir) : undefined;
    return spawnReferenceServer({
      ...(choice.fixes !== undefined ? { fixes: choice.fixes } : { mode: choice.mode ?? 'patched' }),
      diagnosticsDir: o.snapshotsDir,
      exposeGc: o.exposeGc,
      ...o.def.target,
      ...(clinic ? { wrapper: clinic.wrapper, env: clinic.env } : {}),
    });
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

/**
 * Stops the target. Under Clinic.js, returns the link (relative to `runDir`) to the HTML report
 * it writes beside its data once the server has exited, as the `clinic` artefact.
 */
export async function stopTarget(
  target: Target,
  clinicDir: string | undefined,
  runDir: string,
  emit: (line: string) => void,
): Promise<Record<string, string>> {
  await target.stop();
  if (clinicDir === undefined) return {};
  const htmlFile = existsSync(clinicDir) ? readdirSync(clinicDir).find((f) => f.endsWith('.html')) : undefined;
  if (htmlFile) return { clinic: relative(runDir, join(clinicDir, htmlFile)) };
  emit(`Clinic.js wrote no HTML report into ${clinicDir}`);
  return {};
}
