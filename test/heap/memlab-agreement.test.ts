/**
 * leakscope and memlab (getFullHeapFromFile, the baseline bench:heap measures against)
 * read the same real V8 snapshot the same way: node and edge counts, self sizes, and every
 * node's dominator and retained size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { idomOf } from '../../analyzer/heap/dominator-tree.js';
import { analyzeSnapshot } from '../../analyzer/heap/heap-analysis.js';
import { runProgram, withTempDir } from './fixtures.js';

interface MemlabNode {
  readonly id: number;
  readonly self_size: number;
  readonly retainedSize: number;
  readonly dominatorNode: { readonly id: number } | null;
}
interface MemlabHeap {
  readonly nodes: { readonly length: number; forEach(cb: (n: MemlabNode, i: number) => void): void };
  readonly edges: { readonly length: number };
}

/** A server-like heap: a growing cache, closures, a ring, weak references, concatenated keys. */
const PROGRAM = `
class ExecutorEntry { constructor(key, i) { this.key = key; this.model = 'ctr'; this.hits = i & 7; } }
class SessionCache { constructor() { this.executors = new Map(); } }
globalThis.session = new SessionCache();
for (let i = 0; i < 20000; i++) { const k = 'user_age,item_id,f' + i + '->prob//0/'; session.executors.set(k, new ExecutorEntry(k, i)); }
const ring = { name: 'head' }; let at = ring; for (let i = 0; i < 500; i++) { at = at.next = { i, prev: at }; } at.next = ring;
globalThis.ring = ring;
globalThis.handlers = Array.from({ length: 300 }, (_, i) => () => i + ring.name.length);
const keys = Array.from({ length: 200 }, () => ({})); globalThis.weak = new WeakMap(keys.map((k, i) => [k, { i }]));
globalThis.keys = keys.slice(0, 100);
globalThis.refs = keys.map((k) => new WeakRef(k));
let s = ''; for (let i = 0; i < 3000; i++) s += 'part' + i + ','; globalThis.text = s;
snap('heap');
`;

test("every node's dominator and retained size match memlab's on a real V8 snapshot", async () => {
  await withTempDir(async (dir) => {
    await runProgram(dir, PROGRAM);
    const file = join(dir, 'heap.heapsnapshot');
    const a = await analyzeSnapshot(file);
    const { getFullHeapFromFile } = (await import('@memlab/heap-analysis')) as unknown as {
      getFullHeapFromFile(f: string): Promise<MemlabHeap>;
    };
    const heap = await getFullHeapFromFile(file);
    const g = a.graph;
    assert.equal(g.nodeCount, heap.nodes.length, 'nodes');
    assert.equal(g.edgeCount, heap.edges.length, 'edges');
    let differ = 0;
    const examples: string[] = [];
    let selfTotal = 0;
    const idom = idomOf(a.tree);
    heap.nodes.forEach((n, i) => {
      assert.equal(g.nodeId[i], n.id, `node ${i}'s id`);
      assert.equal(g.selfSize[i], n.self_size, `node ${i}'s self size`);
      selfTotal += n.self_size;
      const dom = g.nodeId[idom[i]!]!;
      if (a.retained[i] !== n.retainedSize || dom !== (n.dominatorNode?.id ?? dom)) {
        differ++;
        if (examples.length < 5)
          examples.push(
            `@${n.id} (${g.typeName(i)} ${g.namePrefix(i, 40)}): retained ${a.retained[i]} vs ${n.retainedSize}, dominator @${dom} vs @${n.dominatorNode?.id}`,
          );
      }
    });
    assert.equal(a.retained[0], selfTotal, 'the root retains the whole heap');
    assert.equal(differ, 0, `${differ} of ${g.nodeCount} nodes differ:\n${examples.join('\n')}`);
  });
});
