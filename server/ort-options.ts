/**
 * The onnxruntime session options every session here uses, in a module of their own: handler
 * threads import them without importing onnxruntime-node's whole public package (its
 * backend registration and onnxruntime-common), which every thread's boot would pay again.
 */
import type ort from 'onnxruntime-node';

/** onnxruntime options for every session: one thread each, so threads are ours to count. */
export const ORT_SESSION_OPTIONS: ort.InferenceSession.SessionOptions = Object.freeze({
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
