/**
 * The phase loop against a plain HTTP server on loopback and a stand-in target whose death
 * the test decides: what is recorded, which captures are due, and why the loop stops.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import type { CommandIo } from '../../cli/command.js';
import { progressPrinter } from '../../cli/run.js';
import type { PhaseDef } from '../../scenarios/scenario.js';
import type { Sample } from '../../common/run-format.js';
import { PhaseCursor, type RunProgress, runPhases } from '../../scenarios/phase-loop.js';
import { newRunRecord } from '../../scenarios/run-record.js';
import { parseScenario } from '../../scenarios/scenario.js';
import type { Target } from '../../scenarios/targets.js';

async function withHttpServer<T>(fn: (url: string, hits: () => number) => Promise<T>): Promise<T> {
  let hits = 0;
  const server: Server = createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  try {
    return await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, () => hits);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

const scenario = (phases: object[]) => ({
  ...parseScenario({ name: 'loop', phases }, 'loop.json', '/'),
  file: 'loop.json',
});

const phase = (name: string, extra: object = {}) => ({
  name,
  requests: 20,
  rate: 200,
  transport: 'http',
  http: { method: 'GET', path: '/' },
  ...extra,
});

/** A target that is alive until `kill()`; then `exited` resolves. */
function standIn(http: string) {
  let alive = true;
  let exit!: (x: { code: number | null; signal: string | null }) => void;
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) => (exit = r));
  const target: Target = {
    info: { kind: 'external', http },
    http,
    modelName: 'none',
    exited,
    alive: () => alive,
    stop: async () => undefined,
  };
  return {
    target,
    kill() {
      alive = false;
      exit({ code: null, signal: 'SIGKILL' });
    },
  };
}

function harness(
  def: ReturnType<typeof scenario>,
  target: Target,
  signal?: AbortSignal,
  progress?: { last?: Sample; seen: RunProgress[] },
) {
  const calls: string[] = [];
  const record = newRunRecord('loop-x', def, {}, target.info);
  const cursor = new PhaseCursor();
  const t0 = performance.now();
  const run = (hooks: { afterPhase?: (i: number) => void } = {}) =>
    runPhases({
      def,
      target,
      inputs: undefined,
      captures: {
        beforePhase: async (i: number) => void calls.push(`before ${i}`),
        afterPhase: async (i: number, p: PhaseDef) => {
          calls.push(`after ${i}${p.snapshot ? ` ${p.snapshot}` : ''}`);
          hooks.afterPhase?.(i);
        },
        lastSample: () => progress?.last,
      },
      record,
      cursor,
      seed: 1,
      ...(signal ? { signal } : {}),
      now: () => performance.now() - t0,
      emit: (l) => calls.push(l),
      ...(progress ? { onProgress: (p: RunProgress) => progress.seen.push(p) } : {}),
    });
  return { calls, record, cursor, run };
}

test('every phase runs in order with its captures around it; records and results line up; the request clock adds up', async () => {
  await withHttpServer(async (url, hits) => {
    const def = scenario([phase('warm'), phase('steady', { steady: true, snapshot: 'target' }), phase('last')]);
    const h = harness(def, standIn(url).target);
    await h.run();
    assert.equal(h.record.status, 'complete');
    assert.equal(h.record.error, undefined);
    assert.deepEqual(
      h.calls.filter((c) => /^(before|after)/.test(c)),
      ['before 0', 'after 0', 'before 1', 'after 1 target', 'before 2', 'after 2'],
    );
    assert.deepEqual(
      h.record.phases.map((p) => [p.name, p.steady, p.transport, p.load.requests]),
      [
        ['warm', false, 'http', 20],
        ['steady', true, 'http', 20],
        ['last', false, 'http', 20],
      ],
    );
    for (const [i, p] of h.record.phases.entries()) {
      assert.ok(p.endMs >= p.startMs, `phase ${p.name} ends before it starts`);
      if (i > 0) assert.ok(p.startMs >= h.record.phases[i - 1]!.endMs, 'phases overlap');
    }
    assert.deepEqual(
      h.record.results.map((r) => r.name),
      ['warm', 'steady', 'last'],
    );
    const completed = h.record.results.reduce((a, r) => a + r.completed, 0);
    assert.equal(h.cursor.requests(), completed);
    assert.equal(h.cursor.load, undefined);
    assert.equal(hits(), completed);
    assert.ok(
      h.calls.some((c) => /^phase steady done: 20 completed, 0 dropped, 0 errors/.test(c)),
      h.calls.join('\n'),
    );
  });
});

test('a target that dies during a phase ends the loop there: target-died naming the phase, no captures after it', async () => {
  await withHttpServer(async (url) => {
    const def = scenario([phase('one', { snapshot: 'baseline' }), phase('two'), phase('three')]);
    const s = standIn(url);
    const h = harness(def, s.target);
    // Dies while phase two is under way: its load completes (the server stays up) but the target is gone.
    await h.run({ afterPhase: (i) => i === 0 && setImmediate(() => s.kill()) });
    assert.equal(h.record.status, 'target-died');
    assert.equal(h.record.error, "the target exited during phase 'two' (code ?, signal SIGKILL)");
    assert.deepEqual(
      h.record.phases.map((p) => p.name),
      ['one', 'two'],
      'the phase it died in is recorded with what it measured',
    );
    assert.deepEqual(
      h.calls.filter((c) => /^(before|after)/.test(c)),
      ['before 0', 'after 0 baseline', 'before 1'],
    );
  });
});

test('an interrupted run stops after the phase under way, or before the first; the record says which', async () => {
  await withHttpServer(async (url) => {
    const def = scenario([
      phase('one'),
      phase('two', { requests: undefined, durationS: 60, rate: 50 }),
      phase('three'),
    ]);
    const ctl = new AbortController();
    const h = harness(def, standIn(url).target, ctl.signal);
    const t0 = performance.now();
    await h.run({ afterPhase: (i) => i === 0 && setTimeout(() => ctl.abort(), 300) });
    assert.ok(performance.now() - t0 < 30_000, 'the abort did not end the 60 s phase');
    assert.equal(h.record.status, 'interrupted');
    assert.equal(h.record.error, "interrupted during phase 'two'");
    assert.deepEqual(
      h.record.phases.map((p) => p.name),
      ['one', 'two'],
    );
    assert.ok(h.record.results[1]!.completed > 0, 'what phase two measured is kept');
    assert.deepEqual(
      h.calls.filter((c) => /^(before|after)/.test(c)),
      ['before 0', 'after 0', 'before 1'],
    );

    const early = new AbortController();
    early.abort();
    const e = harness(def, standIn(url).target, early.signal);
    await e.run();
    assert.equal(e.record.status, 'interrupted');
    assert.equal(e.record.error, 'interrupted before all phases ran');
    assert.deepEqual(e.record.phases, []);
  });
});

test('the progress line carries the newest sample: RSS and threads are printed while a phase runs', async () => {
  await withHttpServer(async (url) => {
    const def = scenario([phase('long', { requests: 60, rate: 50 })]);
    const sample: Sample = { t: 1, requests: 3, phase: 'long', rssBytes: 5 * 2 ** 20, threads: 7 };
    const progress: { last?: Sample; seen: RunProgress[] } = { seen: [] };
    const h = harness(def, standIn(url).target, undefined, progress);
    const running = h.run();
    await new Promise((r) => setTimeout(r, 300));
    progress.last = sample;
    await running;
    const withSample = progress.seen.filter((p) => p.last);
    assert.ok(withSample.length > 0, `no progress report carried a sample (${progress.seen.length} reports)`);
    assert.equal(withSample.at(-1)!.last, sample);
    const out: string[] = [];
    progressPrinter(
      { stderr: { write: (s: string) => out.push(s) } } as unknown as CommandIo,
      true,
    )(withSample.at(-1)!);
    assert.match(out.join(''), /RSS 5(\.00)? MiB · threads 7/);
  });
});
