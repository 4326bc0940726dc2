/**
 * The model repository: discovers numeric version folders under each model's base path
 * (as TF Serving's file-system storage path source does), applies the version policy,
 * loads new versions, and unloads old ones only once a newer aspired version is available
 * and their in-flight requests have finished. A version that fails to load goes to END
 * with an error status; the versions already serving keep serving.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import type { Logger } from 'pino';
import { LsError, type GrpcCodeName } from '../common/errors.js';
import type { ModelSource, VersionPolicy } from './model-config.js';
import { ORT_SESSION_OPTIONS } from './ort-options.js';
import { signatureOf, type Signature } from './signature.js';

export type VersionState = 'START' | 'LOADING' | 'AVAILABLE' | 'UNLOADING' | 'END';

/** A loaded, servable model version. */
export interface Servable {
  readonly model: string;
  readonly version: number;
  /** The .onnx file (handler threads load their own session from it). */
  readonly path: string;
  readonly signature: Signature;
  readonly session: ort.InferenceSession;
}

export interface VersionStatus {
  readonly version: number;
  readonly state: VersionState;
  readonly errorCode: GrpcCodeName;
  readonly errorMessage: string;
}

/** Loads model files; swapped in tests to count or fail loads. */
export interface ServableLoader {
  load(model: string, version: number, path: string): Promise<Servable>;
  unload(s: Servable): Promise<void>;
}

export { ORT_SESSION_OPTIONS };

export const onnxLoader: ServableLoader = {
  async load(model, version, path) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, { ...ORT_SESSION_OPTIONS });
    } catch (e) {
      throw new LsError(
        'LS_ERR_MODEL_LOAD',
        `model '${model}' version ${version}: onnxruntime cannot load ${path}: ${(e as Error).message}`,
      );
    }
    try {
      return Object.freeze({ model, version, path, signature: signatureOf(session), session });
    } catch (e) {
      await session.release().catch(() => undefined);
      throw e;
    }
  },
  async unload(s) {
    await s.session.release();
  },
};

/** Holding a lease keeps a version from being unloaded until release() is called. */
export interface Lease {
  readonly servable: Servable;
  release(): void;
}

export interface VersionSpec {
  readonly name: string;
  readonly version?: number | undefined;
  readonly label?: string | undefined;
}

class VersionEntry {
  state: VersionState = 'START';
  errorCode: GrpcCodeName = 'OK';
  errorMessage = '';
  servable: Servable | undefined;
  inflight = 0;
  /** File fingerprint at the last load attempt, so a fixed file is retried. */
  fingerprint = '';
  private drainWaiters: Array<() => void> = [];
  constructor(readonly version: number) {}
  drained(): Promise<void> {
    if (this.inflight === 0) return Promise.resolve();
    return new Promise((r) => this.drainWaiters.push(r));
  }
  releaseOne(): void {
    this.inflight--;
    if (this.inflight === 0) for (const w of this.drainWaiters.splice(0)) w();
  }
}

class ModelEntry {
  readonly versions = new Map<number, VersionEntry>();
  /** Highest AVAILABLE version first; rebuilt on every state change. */
  available: VersionEntry[] = [];
  constructor(public source: ModelSource) {}
  refreshAvailable(): void {
    this.available = [...this.versions.values()]
      .filter((v) => v.state === 'AVAILABLE')
      .sort((a, b) => b.version - a.version);
  }
}

/** Which of the versions found on disk the policy wants served. */
export function aspiredVersions(found: readonly number[], policy: VersionPolicy): number[] {
  const sorted = [...found].sort((a, b) => b - a);
  switch (policy.kind) {
    case 'latest':
      return sorted.slice(0, policy.numVersions);
    case 'all':
      return sorted;
    case 'specific':
      return sorted.filter((v) => policy.versions.includes(v));
  }
}

/** The model file inside a version folder: model.onnx, else the only *.onnx file. */
export function modelFileIn(dir: string): string {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return join(dir, 'model.onnx');
  }
  if (names.includes('model.onnx')) return join(dir, 'model.onnx');
  const onnx = names.filter((n) => n.endsWith('.onnx'));
  return join(dir, onnx.length === 1 ? onnx[0]! : 'model.onnx');
}

function fingerprintOf(file: string): string {
  try {
    const s = statSync(file);
    return `${s.size}:${s.mtimeMs}`;
  } catch {
    return 'missing';
  }
}

export interface RepositoryOptions {
  readonly loader?: ServableLoader;
  readonly logger: Logger;
  /** --file_system_poll_wait_seconds, in ms; 0 disables polling. */
  readonly pollIntervalMs: number;
}

export class ModelRepository {
  private readonly models = new Map<string, ModelEntry>();
  private readonly loader: ServableLoader;
  private readonly log: Logger;
  private readonly pollIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly unloadListeners: Array<(s: Servable) => void> = [];
  private readonly loadListeners: Array<(s: Servable) => void> = [];

  constructor(opts: RepositoryOptions) {
    this.loader = opts.loader ?? onnxLoader;
    this.log = opts.logger;
    this.pollIntervalMs = opts.pollIntervalMs;
  }

  /** Called when a version becomes available (handler threads load their sessions of it). */
  onLoad(listener: (s: Servable) => void): void {
    this.loadListeners.push(listener);
  }

  /** Called after a version is unloaded (handler threads drop their sessions of it). */
  onUnload(listener: (s: Servable) => void): void {
    this.unloadListeners.push(listener);
  }

  /**
   * Replaces the set of served models (start-up, HandleReloadConfigRequest) and runs one
   * discovery pass; resolves once the pass (loads and unloads) is done.
   */
  setSources(sources: readonly ModelSource[]): Promise<void> {
    return this.serialize(async () => {
      const wanted = new Set(sources.map((s) => s.name));
      for (const s of sources) {
        const e = this.models.get(s.name);
        if (e) e.source = s;
        else this.models.set(s.name, new ModelEntry(s));
      }
      for (const [name, e] of this.models) {
        if (!wanted.has(name)) await this.removeModel(name, e);
      }
      await this.discoverAll();
    });
  }

  /** One discovery pass over every base path (the poller calls this). */
  pollOnce(): Promise<void> {
    return this.serialize(() => this.discoverAll());
  }

  /** Starts polling every pollIntervalMs. */
  start(): void {
    if (this.pollIntervalMs <= 0 || this.stopped) return;
    const tick = () => {
      this.timer = setTimeout(() => {
        this.pollOnce()
          .catch((e) => this.log.error({ err: e }, 'model discovery failed'))
          .finally(() => {
            if (!this.stopped) tick();
          });
      }, this.pollIntervalMs);
      this.timer.unref();
    };
    tick();
  }

  /** Stops polling, waits for in-flight requests, unloads everything. */
  async close(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.serialize(async () => {
      for (const [name, e] of this.models) await this.removeModel(name, e);
    });
  }

  modelNames(): string[] {
    return [...this.models.keys()];
  }

  /**
   * Leases the version a request addresses: by number, by label, or the latest available.
   * Throws NOT_FOUND-mapped errors naming what was asked.
   */
  acquire(spec: VersionSpec): Lease {
    const entry = this.resolve(spec);
    entry.inflight++;
    let released = false;
    return {
      servable: entry.servable!,
      release: () => {
        if (released) return;
        released = true;
        entry.releaseOne();
      },
    };
  }

  /** Peeks at the servable a spec resolves to, without leasing it. */
  peek(spec: VersionSpec): Servable {
    return this.resolve(spec).servable!;
  }

  private resolve(spec: VersionSpec): VersionEntry {
    const m = this.models.get(spec.name);
    if (!m)
      throw new LsError(
        'LS_ERR_MODEL_NOT_FOUND',
        `Servable not found for request: model '${spec.name}' is not served here${this.models.size ? ` (served: ${this.modelNames().join(', ')})` : ''}`,
      );
    if (spec.label !== undefined) {
      const v = m.source.labels[spec.label];
      if (v === undefined)
        throw new LsError(
          'LS_ERR_MODEL_NOT_FOUND',
          `model '${spec.name}' has no version label '${spec.label}'${Object.keys(m.source.labels).length ? ` (labels: ${Object.keys(m.source.labels).join(', ')})` : ''}`,
        );
      const e = m.versions.get(v);
      if (e?.state !== 'AVAILABLE')
        throw new LsError(
          'LS_ERR_MODEL_NOT_FOUND',
          `model '${spec.name}' label '${spec.label}' points at version ${v}, which is not available`,
        );
      return e;
    }
    if (spec.version !== undefined) {
      const e = m.versions.get(spec.version);
      if (e?.state !== 'AVAILABLE') {
        throw new LsError(
          'LS_ERR_MODEL_NOT_FOUND',
          `Servable not found for request: model '${spec.name}' version ${spec.version} is not available${m.available.length ? ` (available: ${m.available.map((x) => x.version).join(', ')})` : ''}`,
        );
      }
      return e;
    }
    const latest = m.available[0];
    if (!latest)
      throw new LsError(
        'LS_ERR_MODEL_UNAVAILABLE',
        `model '${spec.name}' has no available version yet (base path ${m.source.basePath})`,
      );
    return latest;
  }

  /** Status of every version of a model (or of one version / label), highest first. */
  status(spec: VersionSpec): VersionStatus[] {
    const m = this.models.get(spec.name);
    if (!m) throw new LsError('LS_ERR_MODEL_NOT_FOUND', `Could not find any versions of model '${spec.name}'`);
    let version = spec.version;
    if (spec.label !== undefined) {
      version = m.source.labels[spec.label];
      if (version === undefined)
        throw new LsError('LS_ERR_MODEL_NOT_FOUND', `model '${spec.name}' has no version label '${spec.label}'`);
    }
    const all = [...m.versions.values()].sort((a, b) => b.version - a.version);
    const picked = version === undefined ? all : all.filter((v) => v.version === version);
    if (picked.length === 0) {
      throw new LsError(
        'LS_ERR_MODEL_NOT_FOUND',
        version === undefined
          ? `Could not find any versions of model '${spec.name}'`
          : `Could not find version ${version} of model '${spec.name}'`,
      );
    }
    return picked.map((v) => ({
      version: v.version,
      state: v.state,
      errorCode: v.errorCode,
      errorMessage: v.errorMessage,
    }));
  }

  /** All currently AVAILABLE servables (diagnostics, handler threads). */
  availableServables(): Servable[] {
    return [...this.models.values()].flatMap((m) => m.available.map((v) => v.servable!));
  }

  private serialize(fn: () => Promise<void>): Promise<void> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async discoverAll(): Promise<void> {
    for (const [, m] of this.models) await this.discover(m);
  }

  private foundVersions(basePath: string): number[] {
    let names: string[];
    try {
      names = readdirSync(basePath);
    } catch (e) {
      this.log.warn({ basePath, code: (e as NodeJS.ErrnoException).code }, 'model base path cannot be read');
      return [];
    }
    const out: number[] = [];
    for (const n of names) {
      if (!/^\d+$/.test(n)) continue;
      try {
        if (statSync(join(basePath, n)).isDirectory()) out.push(Number(n));
      } catch {
        /* vanished between readdir and stat */
      }
    }
    return out;
  }

  private async discover(m: ModelEntry): Promise<void> {
    const { name, basePath, policy } = m.source;
    const aspired = aspiredVersions(this.foundVersions(basePath), policy);
    // Load first, so that an unload never leaves the model without a serving version.
    for (const v of aspired.sort((a, b) => a - b)) {
      const file = modelFileIn(join(basePath, String(v)));
      const fp = fingerprintOf(file);
      const existing = m.versions.get(v);
      if (existing && !(existing.state === 'END' && existing.errorCode !== 'OK' && existing.fingerprint !== fp))
        continue;
      const e = existing ?? new VersionEntry(v);
      m.versions.set(v, e);
      await this.load(m, e, file, fp);
    }
    const aspiredSet = new Set(aspired);
    const aspiredAvailable = aspired.some((v) => m.versions.get(v)?.state === 'AVAILABLE');
    for (const e of [...m.versions.values()]) {
      if (aspiredSet.has(e.version)) continue;
      if (e.state === 'AVAILABLE') {
        if (aspiredAvailable) await this.unload(m, e);
        else
          this.log.warn(
            { model: name, version: e.version },
            'version no longer aspired, but kept serving: no aspired version is available',
          );
      } else if (e.state === 'END' && e.errorCode !== 'OK' && !fingerprintExists(basePath, e.version)) {
        m.versions.delete(e.version); // a failed version whose folder is gone is forgotten
      }
    }
  }

  private async load(m: ModelEntry, e: VersionEntry, file: string, fp: string): Promise<void> {
    const { name } = m.source;
    e.fingerprint = fp;
    e.state = 'LOADING';
    e.errorCode = 'OK';
    e.errorMessage = '';
    const t0 = performance.now();
    try {
      if (fp === 'missing')
        throw new LsError('LS_ERR_MODEL_LOAD', `model '${name}' version ${e.version}: no model file at ${file}`);
      e.servable = await this.loader.load(name, e.version, file);
      e.state = 'AVAILABLE';
      for (const l of this.loadListeners) l(e.servable);
      this.log.info(
        { model: name, version: e.version, ms: Math.round(performance.now() - t0) },
        'model version available',
      );
    } catch (err) {
      e.state = 'END';
      e.errorCode = fp === 'missing' ? 'NOT_FOUND' : 'INVALID_ARGUMENT';
      e.errorMessage = (err as Error).message;
      this.log.error({ model: name, version: e.version, error: e.errorMessage }, 'model version failed to load');
    }
    m.refreshAvailable();
  }

  private async unload(m: ModelEntry, e: VersionEntry): Promise<void> {
    e.state = 'UNLOADING';
    m.refreshAvailable();
    this.log.info({ model: m.source.name, version: e.version, inflight: e.inflight }, 'unloading model version');
    await e.drained();
    const s = e.servable;
    e.servable = undefined;
    if (s) {
      for (const l of this.unloadListeners) l(s);
      await this.loader.unload(s).catch((err) => this.log.warn({ err }, 'session release failed'));
    }
    e.state = 'END';
    this.log.info({ model: m.source.name, version: e.version }, 'model version unloaded');
  }

  private async removeModel(name: string, m: ModelEntry): Promise<void> {
    for (const e of m.versions.values()) if (e.state === 'AVAILABLE') await this.unload(m, e);
    this.models.delete(name);
  }
}

function fingerprintExists(basePath: string, version: number): boolean {
  try {
    return statSync(join(basePath, String(version))).isDirectory();
  } catch {
    return false;
  }
}
