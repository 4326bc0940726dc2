/**
 * Reads a run directory (common/run-format.ts) for the analyzer, reports and gate.
 * Everything read is checked against one schema per file: anything unreadable or of the
 * wrong shape is an LS_ERR_BAD_RUN naming the file, the field (or line) and what was
 * expected. What a stopped run leaves is reconciled, with a warning each: a truncated last
 * line of samples.ndjson, a phase still open (its end is its last sample), a manifest still
 * `running` whose runner is gone (`killed`), a listed snapshot missing, a snapshot file the
 * manifest does not list (a capture cut short).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { isAbsolute, join, normalize, resolve, sep } from 'node:path';
import { LsError } from '../common/errors.js';
import { isRecord } from '../common/objects.js';
import { processStartTicks } from '../common/proc.js';
import {
  MANIFEST_FILE,
  type PhaseRecord,
  RESULTS_FILE,
  RUN_FORMAT,
  type RunManifest,
  type RunResults,
  SAMPLES_FILE,
  type Sample,
  SNAPSHOT_DIR,
} from '../common/run-format.js';
import { expecting, flag, inRange, type NumberRule, number, oneOf, text, v, validate } from '../common/validate.js';

export interface RunData {
  readonly dir: string;
  readonly manifest: RunManifest;
  readonly samples: readonly Sample[];
  readonly results: RunResults;
  /** Problems tolerated while reading (e.g. a truncated final sample line). */
  readonly warnings: readonly string[];
}

const badRun = (msg: string) => new LsError('LS_ERR_BAD_RUN', msg);

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badRun(`${file}: cannot read the ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw badRun(`${file}: the ${what} is not valid JSON (${(e as Error).message})`);
  }
}

/** An object with these fields (others are kept: later minor versions add fields). */
const loose = <const E extends v.ObjectEntries>(entries: E, what: string) =>
  v.pipe(
    v.custom<unknown>((x) => !Array.isArray(x), expecting(what)),
    v.looseObject(entries, expecting(what)),
  );

const MS: NumberRule = { min: 0, max: 1e12 }; // ~31 years of run time
const COUNT: NumberRule = { min: 0, max: Number.MAX_SAFE_INTEGER };
const ms = number(MS);
const count = number(COUNT);
const optCount = v.optional(count);
const name = v.pipe(text('a name'), v.minLength(1, expecting('a non-empty name')));
const TRANSPORTS = ['grpc', 'rest', 'http', 'grpc-generic'] as const;
const STATUSES = ['complete', 'interrupted', 'target-died', 'failed', 'running', 'killed'] as const;
const anyRecord = (what: string) => v.record(v.string(), v.unknown(), expecting(what));

const phaseSchema = v.pipe(
  loose(
    {
      name,
      startMs: ms,
      endMs: ms,
      steady: flag(),
      transport: oneOf(TRANSPORTS),
      load: v.optional(anyRecord('an object (the load as declared)'), {}),
      open: v.optional(v.literal(true, expecting('true when given'))),
    },
    'a phase {name, startMs, endMs, steady, transport}',
  ),
  v.check(
    (p) => p.endMs >= p.startMs,
    (i) => `ends (endMs ${(i.input as PhaseRecord).endMs}) before it starts`,
  ),
);

const fileRef = v.pipe(
  text('a file path relative to the run directory'),
  v.check(
    (f) => f !== '' && !isAbsolute(f) && !normalize(f).startsWith(`..${sep}`) && normalize(f) !== '..',
    expecting('a file path inside the run directory'),
  ),
);

const snapshotSchema = loose(
  {
    label: name,
    file: fileRef,
    phase: text('a phase name'),
    tMs: ms,
    captureMs: ms,
    bytes: count,
    isolate: v.optional(text('an isolate name'), 'main'),
  },
  'a snapshot {label, file, phase, tMs, captureMs, bytes}',
);

const manifestSchema = loose(
  {
    format: v.literal(RUN_FORMAT, expecting(`format ${RUN_FORMAT}`)),
    tool: v.optional(anyRecord('an object')),
    runId: name,
    scenario: loose(
      {
        name,
        file: v.optional(text('a file path')),
        definition: v.optional(anyRecord('an object (the scenario as run)'), {}),
        parameters: v.optional(anyRecord('an object'), {}),
      },
      'an object {name, definition, parameters}',
    ),
    target: loose(
      {
        kind: oneOf(['spawned', 'external']),
        mode: v.optional(text('a mode')),
        pid: v.optional(count),
      },
      'an object {kind, …}',
    ),
    host: v.optional(
      loose(
        { cpus: v.optional(number({ min: 1, max: 65536, integer: true })), memBytes: optCount },
        'an object (host facts)',
      ),
    ),
    startedAt: text('a time (ISO 8601)'),
    endedAt: v.optional(text('a time (ISO 8601)')),
    status: oneOf(STATUSES),
    error: v.optional(text('a message')),
    runner: v.optional(
      loose(
        {
          pid: number({ min: 1, max: 2 ** 31, integer: true }),
          hostname: text('a host name'),
          startTicks: optCount,
        },
        'an object {pid, hostname}',
      ),
    ),
    sampleIntervalMs: number({ min: 1, max: 3_600_000 }),
    phases: v.array(phaseSchema, expecting('a list of phases')),
    snapshots: v.optional(v.array(snapshotSchema, expecting('a list of snapshots')), []),
    heapProfiles: v.optional(
      v.array(loose({ file: fileRef, phase: text('a phase name') }, 'an object {file, phase}'), expecting('a list')),
      [],
    ),
    artifacts: v.optional(v.record(v.string(), fileRef, expecting('an object of file paths'))),
  },
  'a JSON object (a run manifest)',
);

/** The numeric fields of a sample and their rules: one table for the schema and the fast check. */
const SAMPLE_NUMBERS: Readonly<Record<string, { readonly rule: NumberRule; readonly required?: true }>> = {
  t: { rule: MS, required: true },
  requests: { rule: COUNT, required: true },
  ...Object.fromEntries(
    [
      'rssBytes',
      'heapUsedBytes',
      'heapSettledBytes',
      'heapTotalBytes',
      'externalBytes',
      'threads',
      'openFds',
      'cacheEntries',
      'cacheKeyBytes',
      'handlerThreads',
      'inflight',
    ].map((k) => [k, { rule: COUNT }]),
  ),
};

const sampleSchema = loose(
  {
    ...Object.fromEntries(
      Object.entries(SAMPLE_NUMBERS).map(([k, { rule, required }]) => [
        k,
        required ? number(rule) : v.optional(number(rule)),
      ]),
    ),
    phase: text('a phase name'),
    gcSettled: v.optional(flag()),
    threadsByName: v.optional(v.record(v.string(), count, expecting('an object of thread counts by name'))),
  },
  'a sample object {t, phase, requests, …}',
);

/**
 * Whether a parsed line passes `sampleSchema`, checked without it: a run holds tens of
 * thousands of samples, and the schema (which builds a copy of each) is ~3× slower than
 * reading them. A line that fails here goes through the schema for its message.
 */
function isValidSample(x: unknown): x is Sample {
  if (!isRecord(x) || typeof x.phase !== 'string') return false;
  for (const k in SAMPLE_NUMBERS) {
    const n = x[k];
    if (n === undefined ? SAMPLE_NUMBERS[k]!.required : typeof n !== 'number' || !inRange(n, SAMPLE_NUMBERS[k]!.rule))
      return false;
  }
  if (x.gcSettled !== undefined && typeof x.gcSettled !== 'boolean') return false;
  const byName = x.threadsByName;
  if (byName === undefined) return true;
  if (!isRecord(byName)) return false;
  for (const k in byName) {
    const n = byName[k];
    if (typeof n !== 'number' || !inRange(n, COUNT)) return false;
  }
  return true;
}

const latencySchema = v.optional(
  loose(
    {
      count,
      meanMs: ms,
      p50Ms: ms,
      p90Ms: ms,
      p99Ms: ms,
      p999Ms: ms,
      maxMs: ms,
      hdr: v.optional(text('a base64 histogram')),
    },
    'a latency summary',
  ),
);

const resultsSchema = loose(
  {
    phases: v.array(
      loose(
        {
          name,
          transport: oneOf(TRANSPORTS),
          planned: count,
          sent: count,
          completed: count,
          dropped: count,
          statusCounts: v.record(v.string(), count, expecting('an object of counts by status')),
          errors: count,
          achievedRate: number({ min: 0, max: 1e9 }),
          latencyFromIntended: latencySchema,
          latencyFromSent: latencySchema,
          driverCpuUsPerRequest: v.optional(number({ min: 0, max: 1e12 })),
        },
        'a phase result {name, transport, planned, sent, completed, …}',
      ),
      expecting('a list of phase results'),
    ),
  },
  'an object {"phases": [...]}',
);

/** Cross-field rules of a manifest the schema cannot say. */
function checkManifest(file: string, m: RunManifest): void {
  m.phases.forEach((p, i) => {
    const j = m.phases.findIndex((q) => q.name === p.name);
    if (j !== i) throw badRun(`${file}: phases[${i}].name: phase '${p.name}' appears twice (phases[${j}])`);
    const prev = m.phases[i - 1];
    if (prev && p.startMs < prev.startMs)
      throw badRun(
        `${file}: phases[${i}].startMs: '${p.name}' starts at ${p.startMs} ms, before phases[${i - 1}] '${prev.name}' (${prev.startMs} ms); phases are listed in the order they ran`,
      );
  });
}

/** A manifest still `running`: under way if its runner lives (same host, same process), else killed. */
function runnerGone(m: RunManifest): string | undefined {
  const r = m.runner;
  if (!r) return 'the manifest does not name its runner';
  if (r.hostname !== hostname()) return `its runner ran on host '${r.hostname}', not this one, and cannot be checked`;
  const ticks = processStartTicks(r.pid);
  if (ticks === undefined) return `its runner (pid ${r.pid}) is gone`;
  if (r.startTicks !== undefined && ticks !== r.startTicks)
    return `its runner (pid ${r.pid}) is gone (the pid is reused)`;
  return undefined;
}

/** Samples of samples.ndjson, each line checked; a cut last line (a killed writer) is skipped with a warning. */
function readSamples(file: string, warnings: string[]): Sample[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw badRun(`${file}: cannot read the samples (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const lines = text.split('\n');
  const samples: Sample[] = [];
  lines.forEach((l, i) => {
    if (l.trim() === '') return;
    let raw: unknown;
    try {
      raw = JSON.parse(l);
    } catch (e) {
      if (i === lines.length - 1 && !text.endsWith('\n')) {
        warnings.push(`${file}: last line is truncated and was skipped`);
        return;
      }
      throw badRun(`${file}: line ${i + 1} is not a valid sample (${(e as Error).message})`);
    }
    samples.push(
      isValidSample(raw)
        ? raw
        : (validate(sampleSchema, raw, {
            code: 'LS_ERR_BAD_RUN',
            source: `${file}: line ${i + 1}`,
          }) as unknown as Sample),
    );
  });
  // Two samplers can finish out of order (a sample taken at a phase's end beside the periodic one); sort is stable.
  return samples.every((s, i) => i === 0 || samples[i - 1]!.t <= s.t) ? samples : samples.sort((a, b) => a.t - b.t);
}

/** Phases the manifest left open (the runner stopped inside them) end at their last sample. */
function closePhases(phases: readonly PhaseRecord[], samples: readonly Sample[], warnings: string[]): PhaseRecord[] {
  return phases.map((p) => {
    if (!p.open) return p;
    const { open: _, ...closed } = p;
    const last = samples.reduce((t, s) => (s.phase === p.name && s.t > t ? s.t : t), p.startMs);
    warnings.push(
      `phase '${p.name}' had not ended when the run stopped; it is taken to end at its last sample (${Math.round(last)} ms)`,
    );
    return { ...closed, endMs: Math.round(last) };
  });
}

/** Listed snapshots that are missing, and snapshot files that are not listed (a capture cut short). */
function snapshotWarnings(dir: string, m: RunManifest, warnings: string[]): void {
  const file = join(dir, MANIFEST_FILE);
  m.snapshots.forEach((s, i) => {
    if (!existsSync(join(dir, s.file))) warnings.push(`${file}: snapshots[${i}].file: ${s.file} is missing`);
  });
  const snapDir = join(dir, SNAPSHOT_DIR);
  const listed = new Set(m.snapshots.map((s) => resolve(dir, s.file)));
  const onDisk = existsSync(snapDir) ? readdirSync(snapDir).filter((f) => f.endsWith('.heapsnapshot')) : [];
  for (const f of onDisk)
    if (!listed.has(resolve(snapDir, f)))
      warnings.push(`${join(snapDir, f)}: not listed in the manifest (a capture that did not finish); not used`);
}

/**
 * Loads and checks a run directory.
 * @example const run = readRun('runs/shuffled-input-leaky-20261128T150000'); run.samples.length
 */
export function readRun(dirArg: string): RunData {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw badRun(`${dirArg}: not a run directory (no such folder)`);
  const manifestFile = join(dir, MANIFEST_FILE);
  const raw = readJson(manifestFile, 'run manifest');
  if (!isRecord(raw)) throw badRun(`${manifestFile}: expected a JSON object`);
  if (raw.format !== RUN_FORMAT)
    throw badRun(
      `${manifestFile}: run format ${JSON.stringify(raw.format)} is not supported (this leakscope reads format ${RUN_FORMAT})`,
    );
  const read = validate(manifestSchema, raw, {
    code: 'LS_ERR_BAD_RUN',
    source: manifestFile,
  }) as unknown as RunManifest;
  checkManifest(manifestFile, read);
  const warnings: string[] = [];
  // A Clinic.js step that failed is said wherever the run is read (its report, its analysis).
  if (isRecord(raw.clinic) && raw.clinic.status === 'failed')
    warnings.push(
      `the Clinic.js ${String(raw.clinic.tool)} step failed, no report is linked: ${String(raw.clinic.error)}`,
    );
  const samples = readSamples(join(dir, SAMPLES_FILE), warnings);
  let manifest: RunManifest = { ...read, phases: closePhases(read.phases, samples, warnings) };
  if (manifest.status === 'running') {
    const gone = runnerGone(manifest);
    if (gone) {
      manifest = {
        ...manifest,
        status: 'killed',
        error: `the run did not finish: ${gone} (killed?); its folder holds what was measured until then`,
      };
      warnings.push(`${manifestFile}: ${manifest.error}`);
    } else warnings.push(`${manifestFile}: the run is still under way (runner pid ${manifest.runner?.pid})`);
  }
  snapshotWarnings(dir, manifest, warnings);
  const resultsFile = join(dir, RESULTS_FILE);
  let results: RunResults = { format: RUN_FORMAT, phases: [] };
  if (existsSync(resultsFile))
    results = validate(resultsSchema, readJson(resultsFile, 'load results'), {
      code: 'LS_ERR_BAD_RUN',
      source: resultsFile,
    }) as unknown as RunResults;
  else warnings.push(`${resultsFile}: missing; no load results`);
  return { dir, manifest, samples, results, warnings };
}
