/**
 * Running a prepared Predict on onnxruntime. The runner is a strategy: the inline runner
 * calls the version's own session from the main isolate; the handler-thread runner
 * (handler-threads.ts) runs it on worker threads managed like gRPC's sync server.
 */
import ort from 'onnxruntime-node';
import { LsError } from '../common/errors.js';
import type { Servable } from './repository.js';
import type { DType, HostTensor, TensorData } from '../wire/tensors.js';

export interface InferenceRunner {
  run(
    servable: Servable,
    feeds: Readonly<Record<string, HostTensor>>,
    fetches: readonly string[],
  ): Promise<Record<string, HostTensor>>;
  close(): Promise<void>;
}

/** HostTensor → ort.Tensor, sharing the data. */
export function toOrt(t: HostTensor): ort.Tensor {
  return new ort.Tensor(t.dtype, t.data as never, t.dims as number[]);
}

/** ort.Tensor → HostTensor, sharing the data. */
export function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as DType, dims: [...t.dims], data: t.data as TensorData };
}

/** Runs one inference on a session; wraps onnxruntime failures as LS_ERR_INFERENCE. */
export async function runSession(
  session: ort.InferenceSession,
  feeds: Readonly<Record<string, HostTensor>>,
  fetches: readonly string[],
): Promise<Record<string, HostTensor>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const k of Object.keys(feeds)) ortFeeds[k] = toOrt(feeds[k]!);
  let out: ort.InferenceSession.ReturnType;
  try {
    out = await session.run(ortFeeds, fetches as string[]);
  } catch (e) {
    throw new LsError('LS_ERR_INFERENCE', `onnxruntime failed to run the model: ${(e as Error).message}`);
  }
  const res: Record<string, HostTensor> = {};
  for (const name of fetches) res[name] = fromOrt(out[name] as ort.Tensor);
  return res;
}

/** Inference on the main isolate, on the version's own session. */
export class InlineRunner implements InferenceRunner {
  constructor(private readonly delayMs = 0) {}
  async run(servable: Servable, feeds: Readonly<Record<string, HostTensor>>, fetches: readonly string[]) {
    if (this.delayMs > 0) await new Promise((r) => setTimeout(r, this.delayMs));
    return runSession(servable.session, feeds, fetches);
  }
  async close() {}
}
