/**
 * Which models the server serves: TF Serving's ModelConfigList, as JSON (a config file,
 * `--model_config_file`) or as protobuf (HandleReloadConfigRequest), or the single-model
 * flags `--model_name/--model_base_path`. Validated once, here, then frozen.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LsError } from '../common/errors.js';

export type VersionPolicy =
  | { readonly kind: 'latest'; readonly numVersions: number }
  | { readonly kind: 'all' }
  | { readonly kind: 'specific'; readonly versions: readonly number[] };

export interface ModelSource {
  readonly name: string;
  readonly basePath: string;
  readonly policy: VersionPolicy;
  /** label → version, as ModelConfig.version_labels. */
  readonly labels: Readonly<Record<string, number>>;
}

export const DEFAULT_POLICY: VersionPolicy = Object.freeze({ kind: 'latest', numVersions: 1 });

const invalid = (where: string, msg: string) => new LsError('LS_ERR_INVALID_OPTION', `${where}: ${msg}`);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function toInt(v: unknown, where: string, min: number): number {
  const n = typeof v === 'string' && /^-?\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < min)
    throw invalid(where, `expected an integer ≥ ${min}, got ${JSON.stringify(v)}`);
  return n;
}

/** Parses a `model_version_policy` object ({latest:{num_versions}} | {all:{}} | {specific:{versions}}). */
export function parseVersionPolicy(v: unknown, where: string): VersionPolicy {
  if (v === undefined || v === null) return DEFAULT_POLICY;
  if (!isRecord(v)) throw invalid(where, 'expected an object with one of latest, all, specific');
  const keys = Object.keys(v);
  if (keys.length !== 1)
    throw invalid(
      where,
      `expected exactly one of latest, all, specific; got ${keys.length ? keys.join(', ') : 'none'}`,
    );
  const [k] = keys as [string];
  const body = v[k];
  if (k === 'all') return Object.freeze({ kind: 'all' });
  if (k === 'latest') {
    const n =
      isRecord(body) && body.num_versions !== undefined
        ? toInt(body.num_versions, `${where}.latest.num_versions`, 1)
        : 1;
    return Object.freeze({ kind: 'latest', numVersions: n });
  }
  if (k === 'specific') {
    const vs = isRecord(body) ? body.versions : undefined;
    if (!Array.isArray(vs) || vs.length === 0)
      throw invalid(`${where}.specific.versions`, 'expected a non-empty list of version numbers');
    return Object.freeze({
      kind: 'specific',
      versions: Object.freeze(vs.map((x, i) => toInt(x, `${where}.specific.versions[${i}]`, 0))),
    });
  }
  throw invalid(where, `unknown policy '${k}' (expected latest, all or specific)`);
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/**
 * Validates a list of ModelConfig-shaped objects (snake_case field names as in TF
 * Serving's text format) into frozen ModelSources.
 */
export function parseModelConfigList(list: unknown, where: string, baseDir: string): readonly ModelSource[] {
  if (!Array.isArray(list)) throw invalid(where, 'expected a list of model configs');
  if (list.length === 0) throw invalid(where, 'the list of models is empty');
  const seen = new Set<string>();
  const out = list.map((c, i) => {
    const w = `${where}[${i}]`;
    if (!isRecord(c)) throw invalid(w, 'expected an object with name and base_path');
    const name = c.name;
    if (typeof name !== 'string' || !NAME_RE.test(name))
      throw invalid(`${w}.name`, `expected a model name of letters, digits, _ . -; got ${JSON.stringify(name)}`);
    if (seen.has(name)) throw invalid(`${w}.name`, `model '${name}' is listed twice`);
    seen.add(name);
    const bp = c.base_path;
    if (typeof bp !== 'string' || bp === '') throw invalid(`${w}.base_path`, 'expected a folder path');
    const platform = c.model_platform;
    if (platform !== undefined && platform !== '' && platform !== 'onnx' && platform !== 'tensorflow') {
      throw invalid(`${w}.model_platform`, `'${String(platform)}' is not served here (this server runs ONNX models)`);
    }
    const labels: Record<string, number> = {};
    if (c.version_labels !== undefined) {
      if (!isRecord(c.version_labels)) throw invalid(`${w}.version_labels`, 'expected an object of label → version');
      for (const [l, v] of Object.entries(c.version_labels)) labels[l] = toInt(v, `${w}.version_labels.${l}`, 0);
    }
    return Object.freeze({
      name,
      basePath: isAbsolute(bp) ? bp : resolve(baseDir, bp),
      policy: parseVersionPolicy(c.model_version_policy, `${w}.model_version_policy`),
      labels: Object.freeze(labels),
    });
  });
  return Object.freeze(out);
}

/**
 * Reads a model config file: JSON shaped like TF Serving's ModelServerConfig,
 * `{"model_config_list": [{"name", "base_path", "model_version_policy"?, "version_labels"?}]}`
 * (a `{"config": [...]}` object under model_config_list is accepted too). Relative
 * base paths are resolved against the file's folder.
 */
export function readModelConfigFile(file: string): readonly ModelSource[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LsError(
      'LS_ERR_BAD_FILE',
      `--model_config_file ${file}: cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new LsError('LS_ERR_BAD_FILE', `--model_config_file ${file}: not valid JSON (${(e as Error).message})`);
  }
  if (!isRecord(json) || json.model_config_list === undefined) {
    throw new LsError('LS_ERR_BAD_FILE', `--model_config_file ${file}: expected an object with "model_config_list"`);
  }
  const l = json.model_config_list;
  const list = isRecord(l) && Array.isArray(l.config) ? l.config : l;
  try {
    return parseModelConfigList(list, 'model_config_list', dirname(resolve(file)));
  } catch (e) {
    throw new LsError('LS_ERR_BAD_FILE', `--model_config_file ${file}: ${(e as Error).message}`);
  }
}
