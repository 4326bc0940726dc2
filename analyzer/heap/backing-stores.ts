/**
 * Off-heap bytes of a leak group: V8 writes each ArrayBuffer's backing store into a
 * snapshot as a native node "system / JSArrayBufferData" whose self size is the store's
 * byte length, reached by the ArrayBuffer's internal `backing_store` edge (a Buffer or
 * typed array reaches its ArrayBuffer by `buffer`). A Buffer culprit then reads
 * "Buffer × 1,900 holding 7.4 MiB of backing stores (4 KiB each)".
 */
import type { HeapBackingStores } from '../../common/analysis-format.js';
import { formatBytes, formatCount } from '../../common/format-numbers.js';
import type { Classes } from './class-names.js';
import type { HeapGraph } from './heap-graph.js';

/** Array-buffer-like classes: their objects may hold a backing store. */
const BUFFER_CLASS = /(?:\wArray|Buffer|^DataView)$/;

/**
 * Backing stores ("system / JSArrayBufferData", native, self size = the bytes) held by the
 * members of each chosen group: a member's `backing_store` edge, or its `buffer` edge's
 * (a Buffer or typed array views an ArrayBuffer). Each store counts once per group, so Buffers
 * sharing Node's 8 KiB pool count the pool once. Visits only members of an array-buffer
 * class, at most MAX_EDGES edges of each and of its ArrayBuffer.
 * @example backingStoresOf(g, classes, groupOf, [0])[0]?.bytes
 */
export function backingStoresOf(
  g: HeapGraph,
  classes: Classes,
  groupOf: Int32Array,
  chosen: readonly number[],
): (HeapBackingStores | null)[] {
  const slot = new Map(chosen.map((gi, k) => [gi, k]));
  const bufferClass = Uint8Array.from(classes.names, (n) => (BUFFER_CLASS.test(n) ? 1 : 0));
  // Per group: a Buffer group and its ArrayBuffers' group both hold the same stores.
  const seen = chosen.map(() => new Set<number>());
  const sizes = chosen.map((): number[] => []);
  const MAX_EDGES = 16;
  const edgeTo = (v: number, name: string): number => g.edgeNamed(v, MAX_EDGES, name);
  for (let i = 0; i < g.nodeCount; i++) {
    const k = groupOf[i]! >= 0 ? slot.get(groupOf[i]!) : undefined;
    if (k === undefined || bufferClass[classes.classOf[i]!] !== 1) continue;
    let store = edgeTo(i, 'backing_store');
    if (store < 0) {
      const buffer = edgeTo(i, 'buffer');
      if (buffer >= 0) store = edgeTo(buffer, 'backing_store');
    }
    if (store < 0 || seen[k]!.has(store)) continue;
    seen[k]!.add(store);
    sizes[k]!.push(g.selfSize[store]!);
  }
  return sizes.map((xs) => {
    if (xs.length === 0) return null;
    const bytes = xs.reduce((a, b) => a + b, 0);
    return { count: xs.length, bytes, each: xs.every((x) => x === xs[0]) ? xs[0]! : null };
  });
}

/**
 * "7.4 MiB of backing stores (4 KiB each)", or "… (1,900 stores)" when their sizes differ.
 * @example describeBackingStores({ count: 1900, bytes: 7782400, each: 4096 })
 */
export function describeBackingStores(b: HeapBackingStores): string {
  const each =
    b.each !== null ? (b.count > 1 ? `${formatBytes(b.each)} each` : '1 store') : `${formatCount(b.count)} stores`;
  return `${formatBytes(b.bytes)} of backing stores (${each})`;
}
