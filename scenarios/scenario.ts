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
import {
  expecting,
  fields,
  type Frozen,
  flag,
  matching,
  type NumberRule,
  number,
  oneOf,
  shown,
  text,
  v,
  validate,
} from '../common/validate.js';

const bounded = (r: NumberRule) => v.optional(number(r));
const rate = number({ min: 0.1, max: 1_000_000 });

const httpTemplateSchema = fields(
  {
    method: v.optional(
      v.pipe(
        matching(/^[A-Za-z]+$/, 'an HTTP method'),
        v.transform((m) => m.toUpperCase()),
      ),
      'POST',
    ),
    path: matching(/^\//, 'a path starting with /'),
    headers: v.optional(v.record(v.string(), text('a string'), expecting('an object of strings')), {}),
    body: v.optional(text('a string template')),
  },
  'an object {method, path, headers?, body?}',
);

const grpcTemplateSchema = fields(
  {
    /** .proto file, relative to the scenario file. */
    proto: text('the path of a .proto file'),
    /** "package.Service/Method". */
    method: matching(/^[\w.]+\/\w+$/, '"package.Service/Method"'),
    request: v.record(v.string(), v.unknown(), expecting('a JSON object template of the request message')),
  },
  'an object {proto, method, request}',
);

/** Fields a phase needs because of its order or transport, and why. */
const REQUIRED_WHEN = [
  ['rate', (p) => p.connections === undefined, '(requests per second), or connections for a closed loop'],
  ['permutations', (p) => p.order === 'permutations', 'with order: permutations (how many distinct input orders, K)'],
  ['http', (p) => p.transport === 'http', 'with transport: http ({method, path, headers?, body?})'],
  ['grpc', (p) => p.transport === 'grpc-generic', 'with transport: grpc-generic ({proto, method, request})'],
] as const satisfies readonly [
  string,
  (p: { order: string; transport: string; connections?: number | undefined }) => boolean,
  string,
][];

const phaseSchema = v.pipe(
  fields({
    name: matching(/^[a-z0-9][a-z0-9_-]*$/i, 'a name of letters, digits, - and _'),
    /** Exactly one of requests / durationS. */
    requests: bounded({ min: 1, max: 100_000_000, integer: true }),
    durationS: bounded({ min: 0.1, max: 86_400 }),
    /** Open-model arrival rate, requests per second (required unless `connections`). */
    rate: v.optional(rate),
    /** Closed loop instead (HTTP/REST on autocannon): N connections, each sending as soon as its answer is back. */
    connections: bounded({ min: 1, max: 10_000, integer: true }),
    /** With a ramp: the rate at the end of the phase. */
    rateTo: v.optional(rate),
    arrivals: v.optional(oneOf(['uniform', 'poisson']), 'uniform'),
    /** Requests allowed in flight; one due while the bound is reached is dropped. */
    maxInflight: v.optional(number({ min: 1, max: 100_000, integer: true }), 64),
    transport: v.optional(oneOf(['grpc', 'rest', 'http', 'grpc-generic']), 'grpc'),
    order: v.optional(oneOf(['fixed', 'sorted', 'permutations']), 'fixed'),
    /** K distinct input orders drawn from, with order: permutations. */
    permutations: bounded({ min: 1, max: 1e12, integer: true }),
    batch: v.optional(number({ min: 1, max: 100_000, integer: true }), 1),
    /** Growth statistics use steady phases only. */
    steady: v.optional(flag(), false),
    /** Take a heap snapshot with this label at the end of the phase. */
    snapshot: v.optional(matching(/^[a-z0-9][a-z0-9_-]{0,40}$/i, 'a short label such as baseline')),
    /** N evenly spaced snapshots within the phase, labelled <snapshot>-1..N (the last at its end). */
    snapshots: bounded({ min: 1, max: 20, integer: true }),
    /** Write a new model version every this many seconds during the phase (hot-reload). */
    reloadEveryS: bounded({ min: 0.2, max: 3600 }),
    http: v.optional(httpTemplateSchema),
    grpc: v.optional(grpcTemplateSchema),
  }),
  v.check(
    (p) => (p.requests === undefined) !== (p.durationS === undefined),
    "give exactly one of 'requests' or 'durationS'",
  ),
  v.rawCheck(({ dataset, addIssue }) => {
    if (!dataset.typed) return;
    const p = dataset.value;
    // A closed loop has no schedule, and runs on autocannon (HTTP only).
    const issue = (key: 'rateTo' | 'transport' | 'snapshots', message: string) =>
      addIssue({ message, path: [{ type: 'object', origin: 'value', input: p, key, value: p[key] }] });
    if (p.connections !== undefined && p.rateTo !== undefined)
      issue('rateTo', 'cannot be used with connections: a closed loop has no arrival schedule to ramp');
    if (p.connections !== undefined && p.transport !== 'rest' && p.transport !== 'http')
      issue(
        'transport',
        `must be rest or http with connections (a closed loop runs on autocannon), got ${p.transport}`,
      );
    if (p.snapshots !== undefined && p.snapshot === undefined)
      issue('snapshots', 'needs snapshot: LABEL beside it (the N captures are labelled LABEL-1..N)');
    for (const [key, when, why] of REQUIRED_WHEN) {
      if (when(p) && p[key] === undefined)
        addIssue({
          message: `is required ${why}`,
          path: [{ type: 'object', origin: 'value', input: p, key, value: undefined }],
        });
    }
  }),
);

const firstRepeated = (names: readonly string[]): string | undefined => names.find((n, i) => names.indexOf(n) !== i);

const scenarioSchema = fields(
  {
    name: matching(/\S/, 'a scenario name'),
    description: v.optional(text(), ''),
    model: v.optional(text('a model name'), 'ctr'),
    sampleIntervalMs: v.optional(number({ min: 20, max: 60_000, integer: true }), 250),
    /** Force a GC before every Nth sample (0 = never) when the target allows it. */
    gcSettledEvery: v.optional(number({ min: 0, max: 10_000, integer: true }), 0),
    /** V8 allocation sampling over the steady phases; absent: on when the target allows it. */
    allocationSampling: v.optional(flag()),
    target: v.optional(
      fields({
        /** Extra service time per Predict for a spawned server (--model-delay-ms). */
        modelDelayMs: bounded({ min: 0, max: 600_000 }),
        grpcMaxThreads: bounded({ min: 1, max: 100_000, integer: true }),
        pollWaitSeconds: bounded({ min: 0, max: 3600 }),
      }),
      {},
    ),
    phases: v.pipe(
      v.array(phaseSchema, expecting('a non-empty list of phases')),
      v.minLength(1, expecting('a non-empty list of phases')),
      v.check(
        (ps) => firstRepeated(ps.map((p) => p.name)) === undefined,
        (i) => `phase ${shown(firstRepeated((i.input as { name: string }[]).map((p) => p.name)))} appears twice`,
      ),
    ),
  },
  'an object with name and phases',
);

/** A scenario as validated: the schema above is the one source of its type and rules. */
export type ScenarioDef = Frozen<v.InferOutput<typeof scenarioSchema>> & {
  /** Folder of the scenario file (relative paths inside it resolve here). */
  readonly baseDir: string;
};
export type PhaseDef = ScenarioDef['phases'][number];
export type PhaseTransport = PhaseDef['transport'];
export type HttpRequestTemplate = NonNullable<PhaseDef['http']>;
export type GrpcRequestTemplate = NonNullable<PhaseDef['grpc']>;
export type TargetDefaults = ScenarioDef['target'];

const BUILTIN_DIR = () => join(packageRoot(), 'scenarios', 'builtin');

/** Validates a parsed scenario document (`source` names it in errors). */
export function parseScenario(doc: unknown, source: string, baseDir: string): ScenarioDef {
  return Object.freeze({ ...validate(scenarioSchema, doc, { code: 'LS_ERR_BAD_SCENARIO', source }), baseDir });
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

/** A closed-loop phase (`connections`) sends as fast as its connections get answers. */
export const isClosedLoop = (p: PhaseDef): boolean => p.connections !== undefined;

/** How many requests a phase plans (a closed loop for a duration plans none: undefined). */
export function plannedRequests(p: PhaseDef): number | undefined {
  if (p.requests !== undefined) return p.requests;
  if (p.rate === undefined) return undefined;
  return Math.max(1, Math.round(((p.rate + (p.rateTo ?? p.rate)) / 2) * p.durationS!));
}

/** Mean open-model rate of a phase (undefined for a closed loop). */
const meanRate = (p: PhaseDef): number | undefined =>
  p.rate === undefined ? undefined : (p.rate + (p.rateTo ?? p.rate)) / 2;

/** Applies --requests/--duration/--rate/--permutations/--transport to a scenario. */
export function applyOverrides<T extends ScenarioDef>(s: T, o: ScenarioOverrides): T {
  // Closed-loop phases have no planned rate or count to scale: they run as written.
  const open = s.phases.filter((p) => !isClosedLoop(p));
  const steady = open.filter((p) => p.steady);
  const scaled = steady.length ? steady : open;
  const totalPlanned = scaled.reduce((a, p) => a + plannedRequests(p)!, 0);
  const totalDuration = scaled.reduce((a, p) => a + plannedRequests(p)! / meanRate(p)!, 0);
  const phases = s.phases.map((p) => {
    if (isClosedLoop(p)) return p;
    if (!scaled.includes(p))
      return o.transport && (p.transport === 'grpc' || p.transport === 'rest') ? { ...p, transport: o.transport } : p;
    let q: PhaseDef = { ...p };
    if (o.rate !== undefined) q = { ...q, rate: o.rate, ...(q.rateTo !== undefined ? { rateTo: o.rate } : {}) };
    const share = plannedRequests(p)! / totalPlanned;
    if (o.requests !== undefined) {
      const { durationS: _d, ...rest } = q;
      q = { ...rest, requests: Math.max(1, Math.round(o.requests * share)) };
    } else if (o.durationS !== undefined) {
      const { requests: _r, ...rest } = q;
      q = { ...rest, durationS: Math.max(0.1, o.durationS * (plannedRequests(p)! / meanRate(p)! / totalDuration)) };
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
