/**
 * Scenario files: a small declarative list of phases (JSON or YAML), validated once with
 * errors naming the bad field, then frozen. Built-in scenarios live in scenarios/builtin/
 * as files of the same format, so users can copy one and write their own.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import YAML from 'yaml';
import { LsError } from '../common/errors.js';
import { packageRoot } from '../common/package-root.js';
import { isRecord } from '../common/objects.js';

export type OrderPolicy = 'fixed' | 'sorted' | 'permutations';
export type PhaseTransport = 'grpc' | 'rest' | 'http' | 'grpc-generic';

export interface HttpRequestTemplate {
  readonly method: string;
  readonly path: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
}

export interface GrpcRequestTemplate {
  /** .proto file, relative to the scenario file. */
  readonly proto: string;
  /** "package.Service/Method". */
  readonly method: string;
  readonly request: Readonly<Record<string, unknown>>;
}

export interface PhaseDef {
  readonly name: string;
  /** Exactly one of requests / durationS. */
  readonly requests?: number;
  readonly durationS?: number;
  /** Open-model arrival rate, requests per second. */
  readonly rate: number;
  /** With a ramp: the rate at the end of the phase. */
  readonly rateTo?: number;
  readonly arrivals: 'uniform' | 'poisson';
  /** Requests allowed in flight; one due while the bound is reached is dropped. */
  readonly maxInflight: number;
  readonly transport: PhaseTransport;
  readonly order: OrderPolicy;
  /** K distinct input orders drawn from, with order: permutations. */
  readonly permutations?: number;
  readonly batch: number;
  /** Growth statistics use steady phases only. */
  readonly steady: boolean;
  /** Take a heap snapshot with this label at the end of the phase. */
  readonly snapshot?: string;
  /** Write a new model version every this many seconds during the phase (hot-reload). */
  readonly reloadEveryS?: number;
  readonly http?: HttpRequestTemplate;
  readonly grpc?: GrpcRequestTemplate;
}

export interface TargetDefaults {
  /** Extra service time per Predict for a spawned server (--model-delay-ms). */
  readonly modelDelayMs?: number;
  readonly grpcMaxThreads?: number;
  readonly pollWaitSeconds?: number;
}

export interface ScenarioDef {
  readonly name: string;
  readonly description: string;
  readonly model: string;
  readonly sampleIntervalMs: number;
  /** Force a GC before every Nth sample (0 = never) when the target allows it. */
  readonly gcSettledEvery: number;
  readonly allocationSampling: boolean;
  readonly target: TargetDefaults;
  readonly phases: readonly PhaseDef[];
  /** Folder of the scenario file (relative paths inside it resolve here). */
  readonly baseDir: string;
}

const BUILTIN_DIR = () => join(packageRoot(), 'scenarios', 'builtin');

const bad = (where: string, msg: string) => new LsError('LS_ERR_BAD_SCENARIO', `${where}: ${msg}`);

function num(
  o: Record<string, unknown>,
  k: string,
  where: string,
  opts: { min: number; max: number; int?: boolean; dflt?: number },
): number | undefined {
  const v = o[k];
  if (v === undefined) return opts.dflt;
  if (
    typeof v !== 'number' ||
    !Number.isFinite(v) ||
    (opts.int && !Number.isInteger(v)) ||
    v < opts.min ||
    v > opts.max
  ) {
    throw bad(
      `${where}.${k}`,
      `expected ${opts.int ? 'an integer' : 'a number'} from ${opts.min} to ${opts.max}, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

function oneOf<T extends string>(
  o: Record<string, unknown>,
  k: string,
  where: string,
  allowed: readonly T[],
  dflt: T,
): T {
  const v = o[k] ?? dflt;
  if (typeof v !== 'string' || !allowed.includes(v as T))
    throw bad(`${where}.${k}`, `expected one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  return v as T;
}

function checkKeys(o: Record<string, unknown>, where: string, allowed: readonly string[]): void {
  for (const k of Object.keys(o))
    if (!allowed.includes(k)) throw bad(where, `unknown field '${k}' (allowed: ${allowed.join(', ')})`);
}

const PHASE_KEYS = [
  'name',
  'requests',
  'durationS',
  'rate',
  'rateTo',
  'arrivals',
  'maxInflight',
  'transport',
  'order',
  'permutations',
  'batch',
  'steady',
  'snapshot',
  'reloadEveryS',
  'http',
  'grpc',
] as const;

function parsePhase(p: unknown, i: number, seen: Set<string>): PhaseDef {
  const where = `phases[${i}]`;
  if (!isRecord(p)) throw bad(where, 'expected an object');
  checkKeys(p, where, PHASE_KEYS);
  const name = p.name;
  if (typeof name !== 'string' || !/^[a-z0-9][a-z0-9_-]*$/i.test(name))
    throw bad(`${where}.name`, `expected a name of letters, digits, - and _, got ${JSON.stringify(name)}`);
  if (seen.has(name)) throw bad(`${where}.name`, `phase '${name}' appears twice`);
  seen.add(name);
  const requests = num(p, 'requests', where, { min: 1, max: 100_000_000, int: true });
  const durationS = num(p, 'durationS', where, { min: 0.1, max: 86_400 });
  if ((requests === undefined) === (durationS === undefined))
    throw bad(where, "give exactly one of 'requests' or 'durationS'");
  const rate = num(p, 'rate', where, { min: 0.1, max: 1_000_000 });
  if (rate === undefined) throw bad(`${where}.rate`, 'is required (requests per second)');
  const transport = oneOf(p, 'transport', where, ['grpc', 'rest', 'http', 'grpc-generic'] as const, 'grpc');
  const order = oneOf(p, 'order', where, ['fixed', 'sorted', 'permutations'] as const, 'fixed');
  const permutations = num(p, 'permutations', where, { min: 1, max: 1e12, int: true });
  if (order === 'permutations' && permutations === undefined)
    throw bad(`${where}.permutations`, 'is required with order: permutations (how many distinct input orders, K)');
  const snapshot = p.snapshot;
  if (snapshot !== undefined && (typeof snapshot !== 'string' || !/^[a-z0-9][a-z0-9_-]{0,40}$/i.test(snapshot)))
    throw bad(`${where}.snapshot`, `expected a short label such as baseline, got ${JSON.stringify(snapshot)}`);
  let http: HttpRequestTemplate | undefined;
  if (transport === 'http') {
    const h = p.http;
    if (!isRecord(h)) throw bad(`${where}.http`, 'is required with transport: http ({method, path, headers?, body?})');
    checkKeys(h, `${where}.http`, ['method', 'path', 'headers', 'body']);
    if (typeof h.path !== 'string' || !h.path.startsWith('/'))
      throw bad(`${where}.http.path`, 'expected a path starting with /');
    if (
      h.headers !== undefined &&
      (!isRecord(h.headers) || Object.values(h.headers).some((v) => typeof v !== 'string'))
    )
      throw bad(`${where}.http.headers`, 'expected an object of strings');
    if (h.body !== undefined && typeof h.body !== 'string')
      throw bad(`${where}.http.body`, 'expected a string template');
    http = Object.freeze({
      method: typeof h.method === 'string' ? h.method.toUpperCase() : 'POST',
      path: h.path,
      headers: Object.freeze({ ...((h.headers as Record<string, string>) ?? {}) }),
      ...(h.body !== undefined ? { body: h.body as string } : {}),
    });
  }
  let grpc: GrpcRequestTemplate | undefined;
  if (transport === 'grpc-generic') {
    const g = p.grpc;
    if (!isRecord(g)) throw bad(`${where}.grpc`, 'is required with transport: grpc-generic ({proto, method, request})');
    checkKeys(g, `${where}.grpc`, ['proto', 'method', 'request']);
    if (typeof g.proto !== 'string') throw bad(`${where}.grpc.proto`, 'expected the path of a .proto file');
    if (typeof g.method !== 'string' || !/^[\w.]+\/\w+$/.test(g.method))
      throw bad(`${where}.grpc.method`, 'expected "package.Service/Method"');
    if (!isRecord(g.request))
      throw bad(`${where}.grpc.request`, 'expected a JSON object template of the request message');
    grpc = Object.freeze({ proto: g.proto, method: g.method, request: g.request });
  }
  if (p.steady !== undefined && typeof p.steady !== 'boolean') throw bad(`${where}.steady`, 'expected true or false');
  return Object.freeze({
    name,
    ...(requests !== undefined ? { requests } : {}),
    ...(durationS !== undefined ? { durationS } : {}),
    rate,
    ...(p.rateTo !== undefined ? { rateTo: num(p, 'rateTo', where, { min: 0.1, max: 1_000_000 })! } : {}),
    arrivals: oneOf(p, 'arrivals', where, ['uniform', 'poisson'] as const, 'uniform'),
    maxInflight: num(p, 'maxInflight', where, { min: 1, max: 100_000, int: true, dflt: 64 })!,
    transport,
    order,
    ...(permutations !== undefined ? { permutations } : {}),
    batch: num(p, 'batch', where, { min: 1, max: 100_000, int: true, dflt: 1 })!,
    steady: p.steady === true,
    ...(snapshot !== undefined ? { snapshot: snapshot as string } : {}),
    ...(p.reloadEveryS !== undefined ? { reloadEveryS: num(p, 'reloadEveryS', where, { min: 0.2, max: 3600 })! } : {}),
    ...(http ? { http } : {}),
    ...(grpc ? { grpc } : {}),
  });
}

/** Validates a parsed scenario document. */
export function parseScenario(doc: unknown, source: string, baseDir: string): ScenarioDef {
  try {
    if (!isRecord(doc)) throw bad('scenario', 'expected an object with name and phases');
    checkKeys(doc, 'scenario', [
      'name',
      'description',
      'model',
      'sampleIntervalMs',
      'gcSettledEvery',
      'allocationSampling',
      'target',
      'phases',
    ]);
    if (typeof doc.name !== 'string' || doc.name === '') throw bad('name', 'expected a scenario name');
    if (!Array.isArray(doc.phases) || doc.phases.length === 0)
      throw bad('phases', 'expected a non-empty list of phases');
    const seen = new Set<string>();
    const phases = Object.freeze(doc.phases.map((p, i) => parsePhase(p, i, seen)));
    const t = doc.target ?? {};
    if (!isRecord(t)) throw bad('target', 'expected an object');
    checkKeys(t, 'target', ['modelDelayMs', 'grpcMaxThreads', 'pollWaitSeconds']);
    if (doc.allocationSampling !== undefined && typeof doc.allocationSampling !== 'boolean')
      throw bad('allocationSampling', 'expected true or false');
    return Object.freeze({
      name: doc.name,
      description: typeof doc.description === 'string' ? doc.description : '',
      model: typeof doc.model === 'string' ? doc.model : 'ctr',
      sampleIntervalMs: num(doc, 'sampleIntervalMs', 'scenario', { min: 20, max: 60_000, int: true, dflt: 250 })!,
      gcSettledEvery: num(doc, 'gcSettledEvery', 'scenario', { min: 0, max: 10_000, int: true, dflt: 0 })!,
      allocationSampling: doc.allocationSampling === true,
      target: Object.freeze({
        ...(t.modelDelayMs !== undefined
          ? { modelDelayMs: num(t, 'modelDelayMs', 'target', { min: 0, max: 600_000 })! }
          : {}),
        ...(t.grpcMaxThreads !== undefined
          ? { grpcMaxThreads: num(t, 'grpcMaxThreads', 'target', { min: 1, max: 100_000, int: true })! }
          : {}),
        ...(t.pollWaitSeconds !== undefined
          ? { pollWaitSeconds: num(t, 'pollWaitSeconds', 'target', { min: 0, max: 3600 })! }
          : {}),
      }),
      phases,
      baseDir,
    });
  } catch (e) {
    if (e instanceof LsError) throw new LsError('LS_ERR_BAD_SCENARIO', `${source}: ${e.message}`);
    throw e;
  }
}

/** Names of the built-in scenarios. */
export function builtinScenarios(): string[] {
  return readdirSync(BUILTIN_DIR())
    .filter((f) => f.endsWith('.yaml'))
    .map((f) => basename(f, '.yaml'))
    .sort();
}

/**
 * Loads a scenario by built-in name or by file path (.json, .yaml, .yml).
 * @example loadScenario('shuffled-input').phases.map((p) => p.name)
 */
export function loadScenario(nameOrFile: string): ScenarioDef & { readonly file: string } {
  let file = nameOrFile;
  if (!existsSync(file)) {
    const builtin = join(BUILTIN_DIR(), `${nameOrFile}.yaml`);
    if (!/[/\\.]/.test(nameOrFile) && existsSync(builtin)) file = builtin;
    else
      throw new LsError(
        'LS_ERR_BAD_SCENARIO',
        `unknown scenario '${nameOrFile}': not a built-in (${builtinScenarios().join(', ')}) and no such file`,
      );
  }
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LsError(
      'LS_ERR_BAD_SCENARIO',
      `${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let doc: unknown;
  try {
    doc = extname(file) === '.json' ? JSON.parse(text) : YAML.parse(text);
  } catch (e) {
    throw new LsError(
      'LS_ERR_BAD_SCENARIO',
      `${file}: not valid ${extname(file) === '.json' ? 'JSON' : 'YAML'} (${(e as Error).message.split('\n')[0]})`,
    );
  }
  return Object.freeze({ ...parseScenario(doc, file, join(file, '..')), file });
}

export interface ScenarioOverrides {
  /** Total requests of the steady phases, split in proportion to their planned counts. */
  readonly requests?: number;
  /** Total seconds of the steady phases, split in proportion. */
  readonly durationS?: number;
  /** Arrival rate of the steady phases. */
  readonly rate?: number;
  /** K for phases that draw input orders from permutations. */
  readonly permutations?: number;
  readonly sampleIntervalMs?: number;
  readonly transport?: 'grpc' | 'rest';
}

/** How many requests a phase plans. */
export const plannedRequests = (p: PhaseDef): number =>
  p.requests ?? Math.max(1, Math.round(((p.rate + (p.rateTo ?? p.rate)) / 2) * p.durationS!));

/** Applies --requests/--duration/--rate/--permutations/--transport to a scenario. */
export function applyOverrides<T extends ScenarioDef>(s: T, o: ScenarioOverrides): T {
  const steady = s.phases.filter((p) => p.steady);
  const scaled = steady.length ? steady : s.phases;
  const totalPlanned = scaled.reduce((a, p) => a + plannedRequests(p), 0);
  const totalDuration = scaled.reduce((a, p) => a + plannedRequests(p) / ((p.rate + (p.rateTo ?? p.rate)) / 2), 0);
  const phases = s.phases.map((p) => {
    if (!scaled.includes(p))
      return o.transport && (p.transport === 'grpc' || p.transport === 'rest') ? { ...p, transport: o.transport } : p;
    let q: PhaseDef = { ...p };
    if (o.rate !== undefined) q = { ...q, rate: o.rate, ...(q.rateTo !== undefined ? { rateTo: o.rate } : {}) };
    const share = plannedRequests(p) / totalPlanned;
    if (o.requests !== undefined) {
      const { durationS: _d, ...rest } = q;
      q = { ...rest, requests: Math.max(1, Math.round(o.requests * share)) };
    } else if (o.durationS !== undefined) {
      const { requests: _r, ...rest } = q;
      q = { ...rest, durationS: Math.max(0.1, o.durationS * (plannedRequests(p) / p.rate / totalDuration)) };
    }
    if (o.permutations !== undefined && q.order === 'permutations') q = { ...q, permutations: o.permutations };
    if (o.transport && (q.transport === 'grpc' || q.transport === 'rest')) q = { ...q, transport: o.transport };
    return Object.freeze(q);
  });
  return Object.freeze({
    ...s,
    phases: Object.freeze(phases),
    ...(o.sampleIntervalMs ? { sampleIntervalMs: o.sampleIntervalMs } : {}),
  });
}
