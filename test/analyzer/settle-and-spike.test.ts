import { test } from 'node:test';
import assert from 'node:assert/strict';
import { settledSamples } from '../../analyzer/analyze-run.js';
import { analyzeThreads } from '../../analyzer/series/threads.js';
import type { PhaseRecord, Sample } from '../../common/run-format.js';

const phase = (name: string, startMs: number, endMs: number, rate: number, steady = true): PhaseRecord => ({
  name,
  startMs,
  endMs,
  steady,
  transport: 'grpc',
  load: { rate },
});

test('the first 2 s of each long steady phase are left out of the growth statistics; short phases keep every sample', () => {
  const phases = [
    phase('warmup', 0, 3000, 200, false),
    phase('steady', 3000, 15000, 300),
    phase('short', 15000, 19000, 300),
  ];
  const samples: Sample[] = [];
  for (let t = 0; t < 19000; t += 250)
    samples.push({ t, phase: t < 3000 ? 'warmup' : t < 15000 ? 'steady' : 'short', requests: t });
  const kept = settledSamples(samples, phases, 2000);
  assert.ok(kept.every((s) => s.phase !== 'steady' || s.t >= 5000));
  assert.equal(kept.filter((s) => s.phase === 'steady').length, (15000 - 5000) / 250);
  assert.equal(kept.filter((s) => s.phase === 'short').length, 16, 'a 4 s phase is shorter than 3 × 2 s: all kept');
});

test('threads are judged as an explosion only around a spike: a steady run has no spike, no cap verdict, no recovery check', () => {
  const steady = [
    phase('warmup', 0, 3000, 200, false),
    phase('shuffle', 3000, 13000, 300),
    phase('shuffle-more', 13000, 23000, 300),
  ];
  const samples: Sample[] = [];
  // Threads step up once (pools filling after a pause) and stay: not an explosion.
  for (let t = 0; t < 23000; t += 250)
    samples.push({
      t,
      phase: t < 3000 ? 'warmup' : t < 13000 ? 'shuffle' : 'shuffle-more',
      requests: t,
      threads: t < 4000 ? 17 : 26,
      inflight: t % 3000 === 0 ? 14 : 1,
    });
  const a = analyzeThreads(steady, samples, { cpus: 2 })!;
  assert.equal(a.spikePhase, null);
  assert.equal(a.bounded, null);
  assert.equal(a.cameBackDown, null);
  // The same shape with a rate spike (≥ 3× the phase before) is judged.
  const spiky = [
    phase('baseline', 0, 3000, 10, false),
    phase('burst2', 3000, 13000, 300, false),
    phase('recovery', 13000, 23000, 10, false),
  ];
  const s2 = samples.map((s) => ({
    ...s,
    phase: s.t < 3000 ? 'baseline' : s.t < 13000 ? 'burst2' : 'recovery',
    inflight: s.t >= 3000 && s.t < 13000 ? 60 : 1,
    threads: s.t >= 3000 && s.t < 13000 ? 70 : 17,
  }));
  const b = analyzeThreads(spiky, s2, { cpus: 2 })!;
  assert.equal(b.spikePhase, 'burst2');
  assert.equal(b.bounded, false);
  assert.equal(b.cameBackDown, true);
});
