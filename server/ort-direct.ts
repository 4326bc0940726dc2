/**
 * onnxruntime-node's native session, called synchronously. The public
 * `InferenceSession.run` re-checks its arguments and then defers the (synchronous) native
 * call to a `setImmediate`, costing each run an event-loop turn and a promise: on a handler
 * thread that is a third of the CPU a run costs (`npm run bench:server`). A handler thread
 * blocks on its request anyway, as a sync gRPC handler does, so it calls the native session
 * directly. The binding is onnxruntime-node's own typed module (`dist/binding`), the one its
 * backend wraps; the package version is pinned by the lockfile, and `DirectSession.load`
 * fails with a clear error if its shape ever changes.
 */
import type ort from 'onnxruntime-node';
import { binding, initOrt, type Binding } from 'onnxruntime-node/dist/binding.js';

export class DirectSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private readonly outputSet: ReadonlySet<string>;

  private constructor(private readonly native: Binding.InferenceSession) {
    this.inputNames = native.inputMetadata.map((m) => m.name);
    this.outputNames = native.outputMetadata.map((m) => m.name);
    this.outputSet = new Set(this.outputNames);
  }

  /** Loads a model file synchronously (the calling thread blocks, as upstream's loader does). */
  static load(path: string, options: ort.InferenceSession.SessionOptions): DirectSession {
    if (typeof binding?.InferenceSession !== 'function' || typeof initOrt !== 'function') {
      throw new Error(
        'onnxruntime-node/dist/binding does not export InferenceSession and initOrt (unsupported onnxruntime-node version)',
      );
    }
    initOrt();
    const native = new binding.InferenceSession();
    native.loadModel(path, options);
    return new DirectSession(native);
  }

  /** Runs the model on the calling thread: every input fed, at least one output asked for. */
  run(feeds: Readonly<Record<string, ort.Tensor>>, fetches: readonly string[]): Record<string, ort.Tensor> {
    // The checks the public run makes, which the native one would answer less clearly.
    for (const name of this.inputNames)
      if (feeds[name] === undefined) throw new Error(`input '${name}' is missing in the feeds`);
    if (fetches.length === 0) throw new Error('no output requested');
    const want: Record<string, null> = {};
    for (const f of fetches) {
      if (!this.outputSet.has(f))
        throw new Error(`'${f}' is not an output of this model (outputs: ${this.outputNames.join(', ')})`);
      want[f] = null;
    }
    return this.native.run(feeds, want, {}) as Record<string, ort.Tensor>;
  }

  release(): void {
    this.native.dispose();
  }
}
