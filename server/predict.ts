/**
 * Predict, independent of transport: resolve the version, check the request against the
 * signature (what TF Serving's PreProcessPrediction does), put the inputs in the order the
 * configured strategy says, get the executor from the version's session cache, run it.
 */
import { LsError } from '../common/errors.js';
import type { InferenceRunner } from './inference.js';
import type { ModelRepository, Servable, VersionSpec } from './repository.js';
import { type InputOrderStrategy, ModelSession, type SessionStrategies } from './session.js';
import { DEFAULT_SIGNATURE, type Signature } from './signature.js';
import type { HostTensor } from '../wire/tensors.js';

export interface PredictCall {
  readonly spec: VersionSpec & { readonly signatureName?: string | undefined };
  /**
   * Builds the named inputs, in the order the client sent them, once the signature is
   * known (REST needs the dtypes to read JSON numbers).
   */
  readonly inputs: (signature: Signature) => ReadonlyArray<readonly [string, HostTensor]>;
  /** Outputs to return, in this order; empty means all, in signature order. */
  readonly outputFilter: readonly string[];
}

export interface PredictResult {
  readonly model: string;
  readonly version: number;
  readonly signatureName: string;
  readonly outputs: ReadonlyArray<readonly [string, HostTensor]>;
}

export function checkSignatureName(name: string | undefined, model: string): void {
  if (name && name !== DEFAULT_SIGNATURE) {
    throw new LsError(
      'LS_ERR_INVALID_REQUEST',
      `Serving signature key '${name}' not found; model '${model}' has: ${DEFAULT_SIGNATURE}`,
    );
  }
}

/** Checks names only: no inputs, unknown inputs, duplicates, missing inputs, bad filter. */
export function checkNames(
  sig: Signature,
  model: string,
  inputs: ReadonlyArray<readonly [string, unknown]>,
  outputFilter: readonly string[],
): string[] {
  const expected = sig.inputs.map((s) => s.name);
  if (inputs.length === 0)
    throw new LsError(
      'LS_ERR_INVALID_REQUEST',
      `request has no inputs; model '${model}' expects: ${expected.join(', ')}`,
    );
  const seen = new Set<string>();
  for (const [n] of inputs) {
    if (!sig.inputIndex.has(n))
      throw new LsError(
        'LS_ERR_INVALID_REQUEST',
        `input '${n}' is not an input of model '${model}' (expected: ${expected.join(', ')})`,
      );
    if (seen.has(n)) throw new LsError('LS_ERR_INVALID_REQUEST', `input '${n}' is given more than once`);
    seen.add(n);
  }
  const missing = expected.filter((n) => !seen.has(n));
  if (missing.length)
    throw new LsError(
      'LS_ERR_INVALID_REQUEST',
      `missing input(s) ${missing.map((m) => `'${m}'`).join(', ')} for model '${model}'`,
    );
  if (outputFilter.length === 0) return sig.outputs.map((o) => o.name);
  const outs = new Set<string>();
  for (const o of outputFilter) {
    if (!sig.outputIndex.has(o))
      throw new LsError(
        'LS_ERR_INVALID_REQUEST',
        `output_filter names '${o}', which is not an output of model '${model}' (outputs: ${sig.outputs.map((x) => x.name).join(', ')})`,
      );
    if (outs.has(o)) throw new LsError('LS_ERR_INVALID_REQUEST', `output_filter names '${o}' more than once`);
    outs.add(o);
  }
  return [...outputFilter];
}

export interface PredictorOptions {
  readonly repository: ModelRepository;
  readonly runner: InferenceRunner;
  readonly session: SessionStrategies;
  readonly inputOrder: InputOrderStrategy;
}

export class Predictor {
  private readonly sessions = new Map<Servable, ModelSession>();
  constructor(private readonly opts: PredictorOptions) {
    opts.repository.onUnload((s) => this.sessions.delete(s));
  }

  /** The executor caches of the versions loaded now (metrics, diagnostics). */
  modelSessions(): ReadonlyMap<Servable, ModelSession> {
    return this.sessions;
  }

  sessionFor(s: Servable): ModelSession {
    let ms = this.sessions.get(s);
    if (!ms) {
      ms = new ModelSession(s.signature, this.opts.session);
      this.sessions.set(s, ms);
    }
    return ms;
  }

  async predict(call: PredictCall): Promise<PredictResult> {
    const lease = this.opts.repository.acquire(call.spec);
    try {
      const s = lease.servable;
      checkSignatureName(call.spec.signatureName, s.model);
      const inputs = call.inputs(s.signature);
      const outputNames = checkNames(s.signature, s.model, inputs, call.outputFilter);
      const ordered = this.opts.inputOrder(inputs);
      const ex = this.sessionFor(s).getOrCreateExecutor(
        ordered.map((e) => e[0]),
        outputNames,
      );
      const feeds = ex.prepareFeeds(ordered);
      const out = await this.opts.runner.run(s, feeds, ex.fetchNames);
      return {
        model: s.model,
        version: s.version,
        signatureName: DEFAULT_SIGNATURE,
        outputs: outputNames.map((n) => [n, out[n]!] as const),
      };
    } finally {
      lease.release();
    }
  }
}
