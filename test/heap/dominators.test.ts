import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { computeDominatorsIterative } from '../bench/dominators-iterative.js';
import { computeDominators, computeRetainedSizes, type Dominators } from '../../analyzer/heap/dominators.js';
import { buildDominatorTree, idomOf } from '../../analyzer/heap/dominator-tree.js';
import { analyzeRaw, analyzeSnapshot } from '../../analyzer/heap/heap-analysis.js';
import { HeapGraph } from '../../analyzer/heap/heap-graph.js';
import { parseSnapshotStream } from '../../analyzer/heap/snapshot-parser.js';
import {
  pieces,
  plainGraph,
  readJson,
  runProgram,
  snapshotJson,
  withTempDir,
  type PlainGraph,
  type SpecNode,
} from './fixtures.js';

/** Retaining predecessors, by the DevTools rule restated: no weak edges, shortcuts only from the root. */
function retainingPreds(pg: PlainGraph): number[][] {
  const preds: number[][] = Array.from({ length: pg.n }, () => []);
  pg.out.forEach((edges, v) => {
    for (const [t, , w] of edges) if (t !== 'weak' && (t !== 'shortcut' || v === 0)) preds[w]!.push(v);
  });
  return preds;
}

function reachableFromRoot(pg: PlainGraph): boolean[] {
  const seen = new Array<boolean>(pg.n).fill(false);
  const stack = [0];
  seen[0] = true;
  while (stack.length) {
    const v = stack.pop()!;
    for (const [t, , w] of pg.out[v]!) {
      if (t === 'weak' || (t === 'shortcut' && v !== 0) || seen[w]) continue;
      seen[w] = true;
      stack.push(w);
    }
  }
  return seen;
}

/** Textbook dominator sets by fixed-point iteration: slow, obviously right. */
function naiveDominatorSets(pg: PlainGraph): Set<number>[] {
  const reach = reachableFromRoot(pg);
  const preds = retainingPreds(pg);
  const all = new Set(Array.from({ length: pg.n }, (_, i) => i).filter((i) => reach[i]));
  const dom = Array.from({ length: pg.n }, (_, i) => (i === 0 ? new Set([0]) : new Set(all)));
  for (let changed = true; changed; ) {
    changed = false;
    for (let v = 1; v < pg.n; v++) {
      if (!reach[v]) continue;
      let acc = null as Set<number> | null;
      for (const p of preds[v]!) {
        if (!reach[p]) continue;
        acc = acc === null ? new Set(dom[p]) : new Set([...acc].filter((x) => dom[p]!.has(x)));
      }
      const next = new Set(acc ?? []);
      next.add(v);
      if (next.size !== dom[v]!.size) {
        dom[v] = next;
        changed = true;
      }
    }
  }
  return dom;
}

/**
 * Every node reachable: node i is retained by a random earlier node, and each node has up
 * to two more retaining edges anywhere (back edges, cross edges, self loops). Many nodes
 * are then retained from deep inside other DFS subtrees, where path compression matters.
 */
function connectedGraph(seed: number, n: number): SpecNode[] {
  let s = seed;
  const rnd = (k: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s >>> 8) % k;
  };
  const nodes: SpecNode[] = [{ type: 'synthetic', name: '', size: 0, edges: [] }];
  for (let i = 1; i < n; i++) {
    nodes.push({ type: 'object', name: `C${rnd(4)}`, size: 1 + rnd(100), edges: [] });
    const retainer = nodes[rnd(i)]!;
    retainer.edges.push({ type: 'property', name: retainer.edges.length, to: i });
  }
  for (const node of nodes)
    for (let k = rnd(3); k > 0; k--) node.edges.push({ type: 'property', name: node.edges.length, to: 1 + rnd(n - 1) });
  return nodes;
}

function randomGraph(seed: number, n: number): SpecNode[] {
  let s = seed;
  const rnd = (k: number): number => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s % k;
  };
  const types = ['property', 'element', 'internal', 'context', 'hidden', 'weak', 'shortcut'];
  const nodes: SpecNode[] = [{ type: 'synthetic', name: '', size: 0, edges: [] }];
  for (let i = 1; i < n; i++) nodes.push({ type: 'object', name: `C${rnd(4)}`, size: 1 + rnd(100), edges: [] });
  for (let i = 0; i < n; i++) {
    const m = i === 0 ? 3 : rnd(4);
    for (let k = 0; k < m; k++) nodes[i]!.edges.push({ type: types[rnd(types.length)]!, name: k, to: 1 + rnd(n - 1) });
  }
  return nodes;
}

test('idoms and retained sizes match dominator sets on random graphs (weak and shortcut edges included)', async () => {
  // Then connected graphs: an eval that left out the top of a compressed path passed every
  // graph of the first kind, not these.
  for (let seed = 1; seed <= 100; seed++) {
    const spec = seed <= 60 ? randomGraph(seed, 8 + (seed % 40)) : connectedGraph(seed, 20 + (seed % 60));
    const json = snapshotJson(spec);
    const a = analyzeRaw(await parseSnapshotStream(pieces(Buffer.from(json), 1 << 16), `random-${seed}`));
    const pg = plainGraph(JSON.parse(json));
    const dom = naiveDominatorSets(pg);
    const reach = reachableFromRoot(pg);
    const aIdom = idomOf(a.tree);
    let total = 0;
    for (let v = 0; v < pg.n; v++) total += pg.size[v]!;
    assert.equal(a.retained[0], total, `seed ${seed}: the root retains everything`);
    for (let v = 1; v < pg.n; v++) {
      if (!reach[v]) {
        // Unreachable nodes hang off the root: their dominator chain ends there.
        let x = v;
        for (let k = 0; k < pg.n && x !== 0; k++) x = aIdom[x]!;
        assert.equal(x, 0, `seed ${seed}: unreachable ${v} is under the root`);
        continue;
      }
      // The immediate dominator is the strict dominator with the largest dominator set.
      const strict = [...dom[v]!].filter((d) => d !== v);
      const idom = strict.reduce((best, d) => (dom[d]!.size > dom[best]!.size ? d : best), 0);
      assert.equal(aIdom[v], idom, `seed ${seed}: idom of ${v}`);
      let retained = 0;
      for (let u = 0; u < pg.n; u++) if (reach[u] && dom[u]!.has(v)) retained += pg.size[u]!;
      // Unreachable nodes dominated (via virtual root edges) add nothing to reachable ones.
      assert.equal(
        a.retained[v],
        retained + unreachableUnder(aIdom, v, reach, pg),
        `seed ${seed}: retained size of ${v}`,
      );
    }
  }
});

function unreachableUnder(idom: Uint32Array, v: number, reach: boolean[], pg: PlainGraph): number {
  let s = 0;
  for (let u = 0; u < pg.n; u++) {
    if (reach[u]) continue;
    for (let x = u, k = 0; x !== 0 && k < pg.n; k++, x = idom[x]!) {
      if (x === v) {
        s += pg.size[u]!;
        break;
      }
    }
  }
  return s;
}

/** Cooper–Harvey–Kennedy iterative dominators: a different algorithm to cross-check on real heaps. */
function chkIdoms(pg: PlainGraph): Int32Array {
  const preds = retainingPreds(pg);
  const po = new Int32Array(pg.n).fill(-1);
  const order: number[] = [];
  const visited = new Uint8Array(pg.n);
  const stack: [number, number][] = [[0, 0]];
  visited[0] = 1;
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [v, k] = top;
    const edges = pg.out[v]!;
    if (k < edges.length) {
      top[1]++;
      const [t, , w] = edges[k]!;
      if (t === 'weak' || (t === 'shortcut' && v !== 0) || visited[w]) continue;
      visited[w] = 1;
      stack.push([w, 0]);
    } else {
      po[v] = order.length;
      order.push(v);
      stack.pop();
    }
  }
  const idom = new Int32Array(pg.n).fill(-1);
  idom[0] = 0;
  const intersect = (a: number, b: number): number => {
    while (a !== b) {
      while (po[a]! < po[b]!) a = idom[a]!;
      while (po[b]! < po[a]!) b = idom[b]!;
    }
    return a;
  };
  for (let changed = true; changed; ) {
    changed = false;
    for (let k = order.length - 2; k >= 0; k--) {
      const v = order[k]!;
      let cur = -1;
      for (const p of preds[v]!) {
        if (po[p] === -1 || idom[p] === -1) continue;
        cur = cur === -1 ? p : intersect(p, cur);
      }
      if (cur !== idom[v]) {
        idom[v] = cur;
        changed = true;
      }
    }
  }
  return idom;
}

test('dominators of a real Node heap agree with Cooper–Harvey–Kennedy', async () => {
  await withTempDir(async (dir) => {
    await runProgram(
      dir,
      `class Holder { constructor() { this.items = new Map(); } }
      globalThis.h = new Holder(); for (let i = 0; i < 500; i++) h.items.set('k' + i, { i, tag: 'v' + i });
      const ws = new WeakSet(); ws.add(h); globalThis.ws = ws; snap('d');`,
    );
    const file = join(dir, 'd.heapsnapshot');
    const a = await analyzeSnapshot(file);
    const pg = plainGraph(await readJson(file));
    const expected = chkIdoms(pg);
    const idom = idomOf(a.tree);
    let compared = 0;
    for (let v = 1; v < pg.n; v++) {
      if (expected[v] === -1) continue;
      if (idom[v] !== expected[v])
        assert.fail(`idom of node ${v} (${pg.type[v]} ${pg.name[v]}): ${idom[v]} != ${expected[v]}`);
      compared++;
    }
    assert.ok(compared > 10000, `compared ${compared} nodes`);
    assert.equal(a.dominators.reachableCount, compared + 1);
    let total = 0;
    for (const s of pg.size) total += s;
    assert.equal(a.retained[0], total);
  });
});

test('retained sizes of a heap over 4 GiB are doubles, exact', async () => {
  const big = 0xffff_fff0;
  const spec: SpecNode[] = [
    { type: 'synthetic', name: '', size: 0, edges: [{ type: 'element', name: 1, to: 1 }] },
    {
      type: 'object',
      name: 'Holder',
      size: 40,
      edges: [
        { type: 'property', name: 'a', to: 2 },
        { type: 'property', name: 'b', to: 3 },
      ],
    },
    { type: 'native', name: 'Buffer', size: big, edges: [] },
    { type: 'native', name: 'Buffer', size: big, edges: [] },
  ];
  const g = new HeapGraph(await parseSnapshotStream(pieces(Buffer.from(snapshotJson(spec)), 1 << 16), 'big'));
  const retained = computeRetainedSizes(g, computeDominators(g), new ArrayBuffer(64));
  assert.ok(retained instanceof Float64Array);
  assert.deepEqual(Array.from(retained), [2 * big + 40, 2 * big + 40, big, big]);
});

test('the iterative (Cooper–Harvey–Kennedy) dominators give the same tree as semi-NCA', async () => {
  for (let seed = 1; seed <= 40; seed++) {
    const json = snapshotJson(randomGraph(seed, 2 + (seed % 30)));
    const g = new HeapGraph(await parseSnapshotStream(pieces(Buffer.from(json), 1 << 16), `random-${seed}`));
    const lt = computeDominators(g);
    const chk = computeDominatorsIterative(g);
    assert.deepEqual(Array.from(chk.idom), Array.from(lt.idom), `seed ${seed}`);
    assert.deepEqual(Array.from(idomOf(buildDominatorTree(lt))), Array.from(lt.idom), `seed ${seed}: the tree's idoms`);
    assert.equal(chk.reachableCount, lt.reachableCount, `seed ${seed}`);
    const sizes = Array.from(computeRetainedSizes(g, lt));
    assert.deepEqual(Array.from(computeRetainedSizes(g, chk)), sizes, `seed ${seed}`);
    // Written over a dead buffer when it is large enough (garbage in it), else in a new one:
    // 4 bytes a node, since these heaps are far below 4 GiB.
    const scratch = new Uint32Array(g.nodeCount + 3).fill(0xdeadbeef).buffer;
    const over = computeRetainedSizes(g, lt, scratch);
    assert.ok(over instanceof Uint32Array);
    assert.equal(over.buffer, scratch);
    assert.deepEqual(Array.from(over), sizes, `seed ${seed}`);
    const small = new ArrayBuffer(4 * g.nodeCount - 4);
    const fresh = computeRetainedSizes(g, lt, small);
    assert.notEqual(fresh.buffer, small);
    assert.deepEqual(Array.from(fresh), sizes, `seed ${seed}`);
    const seen = new Set<number>([0]);
    for (const v of chk.order.subarray(1)) {
      assert.ok(seen.has(chk.idom[v]!), `seed ${seed}: node ${v} comes after its dominator`);
      seen.add(v);
    }
    assert.equal(chk.order[0], 0);
    const reachable = (d: Dominators): number[] =>
      Array.from(d.order.subarray(0, d.reachableCount)).sort((a, b) => a - b);
    assert.deepEqual(reachable(chk), reachable(lt), `seed ${seed}: reachable nodes first`);
  }
});
