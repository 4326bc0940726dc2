/**
 * Reads a run directory (common/run-format.ts) for the analyzer, reports and gate.
 * Anything unreadable is an LS_ERR_BAD_RUN naming the file and what was expected; a
 * truncated last line of samples.ndjson (a run killed mid-write) is tolerated and reported.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { LsError } from '../common/errors.js';
import {
  MANIFEST_FILE,
  RESULTS_FILE,
  RUN_FORMAT,
  SAMPLES_FILE,
  type RunManifest,
  type RunResults,
  type Sample,
} from '../common/run-format.js';
import { isRecord } from '../common/objects.js';

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

/**
 * Loads and checks a run directory.
 * @example const run = readRun('runs/shuffled-input-leaky-20261128T150000'); run.samples.length
 */
export function readRun(dirArg: string): RunData {
  const dir = resolve(dirArg);
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw badRun(`${dirArg}: not a run directory (no such folder)`);
  const m = readJson(join(dir, MANIFEST_FILE), 'run manifest');
  if (!isRecord(m)) throw badRun(`${join(dir, MANIFEST_FILE)}: expected a JSON object`);
  if (m.format !== RUN_FORMAT)
    throw badRun(
      `${join(dir, MANIFEST_FILE)}: run format ${JSON.stringify(m.format)} is not supported (this leakscope reads format ${RUN_FORMAT})`,
    );
  for (const k of ['runId', 'scenario', 'target', 'phases', 'startedAt', 'status'] as const) {
    if (m[k] === undefined) throw badRun(`${join(dir, MANIFEST_FILE)}: field '${k}' is missing`);
  }
  if (!Array.isArray(m.phases)) throw badRun(`${join(dir, MANIFEST_FILE)}: 'phases' must be a list`);
  const warnings: string[] = [];
  // A Clinic.js step that failed is said wherever the run is read (its report, its analysis).
  if (isRecord(m.clinic) && m.clinic.status === 'failed')
    warnings.push(`the Clinic.js ${String(m.clinic.tool)} step failed, no report is linked: ${String(m.clinic.error)}`);
  const samplesFile = join(dir, SAMPLES_FILE);
  let text = '';
  try {
    text = readFileSync(samplesFile, 'utf8');
  } catch (e) {
    throw badRun(
      `${samplesFile}: cannot read the samples (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const samples: Sample[] = [];
  lines.forEach((l, i) => {
    try {
      const s = JSON.parse(l) as Sample;
      if (typeof s.t !== 'number' || typeof s.requests !== 'number')
        throw new Error("fields 't' and 'requests' must be numbers");
      samples.push(s);
    } catch (e) {
      if (i === lines.length - 1 && !text.endsWith('\n'))
        warnings.push(`${samplesFile}: last line is truncated and was skipped`);
      else throw badRun(`${samplesFile}: line ${i + 1} is not a valid sample (${(e as Error).message})`);
    }
  });
  const resultsFile = join(dir, RESULTS_FILE);
  const results = existsSync(resultsFile)
    ? (readJson(resultsFile, 'load results') as RunResults)
    : ({ format: RUN_FORMAT, phases: [] } as RunResults);
  if (!isRecord(results) || !Array.isArray(results.phases)) throw badRun(`${resultsFile}: expected {"phases": [...]}`);
  if (!existsSync(resultsFile)) warnings.push(`${resultsFile}: missing; no load results`);
  return { dir, manifest: m as unknown as RunManifest, samples, results, warnings };
}
