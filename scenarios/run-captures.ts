/**
 * What a run captures from its target besides the load's own results: samples on a fixed
 * interval (/proc, diagnostics, Prometheus, inspector; every Nth one GC-settled), heap
 * snapshots at the scenario's points, and allocation sampling over the steady phases, first
 * to last. Each capture lands in the run folder and is entered in the run's record.
 */
import { formatBytes } from '../common/format-numbers.js';
import { basename, join, relative } from 'node:path';
import { renameSync, writeFileSync } from 'node:fs';
import type { CaptureResult } from '../common/diagnostics-api.js';
import { LsError } from '../common/errors.js';
import type { Sample } from '../common/run-format.js';
import type { RunRecord } from './run-record.js';
import type { RunWriter } from './run-writer.js';
import {
  diagnosticsSource,
  inspectorSource,
  procSource,
  prometheusSource,
  Sampler,
  type SampleSource,
} from './samplers.js';
import type { PhaseDef } from './scenario.js';
import type { Target } from './targets.js';

/** How often a phase with `snapshots: N` checks whether its next capture is due. */
const WATCH_MS = 100;

export interface CaptureOptions {
  readonly intervalMs: number;
  /** Force a GC before every Nth sample (0: never). */
  readonly gcSettledEvery: number;
  /** Heap snapshots at the phases that name one. */
  readonly snapshots: boolean;
  /**
   * Allocation sampling over the steady phases (default on: a spawned server's diagnostics
   * interface or an --inspect target can; the overhead is measured by `npm run bench:sampling`).
   */
  readonly allocationSampling?: boolean | undefined;
  /** Which phases are steady, by index. */
  readonly steady: readonly boolean[];
  /** ms since the run started. */
  readonly now: () => number;
  /** The phase under way and the requests completed so far, for each sample. */
  readonly phase: () => string;
  readonly requests: () => number;
  readonly emit: (line: string) => void;
  /** Called when a capture has landed and is entered in the record, to write the manifest. */
  readonly checkpoint?: () => void;
}

/** The sample sources a target offers. */
export function sampleSources(t: Target): SampleSource[] {
  const sources: SampleSource[] = [];
  if (t.pid !== undefined) sources.push(procSource(t.pid));
  if (t.diagnostics) sources.push(diagnosticsSource(t.diagnostics, t.pid === undefined));
  if (t.prometheus) sources.push(prometheusSource(t.prometheus, t.pid === undefined));
  if (t.inspector) sources.push(inspectorSource(t.inspector, t.pid === undefined));
  return sources;
}

export class Captures {
  private readonly sampler: Sampler;
  /** The steady phases' indices: allocation sampling starts before the first, stops after the last. */
  private readonly steady: number[];
  /** The newest sample, for the progress line. */
  private latest: Sample | undefined;

  constructor(
    private readonly target: Target,
    private readonly writer: RunWriter,
    private readonly record: RunRecord,
    private readonly o: CaptureOptions,
  ) {
    this.steady = o.steady.flatMap((s, i) => (s ? [i] : []));
    this.sampler = new Sampler({
      sources: sampleSources(target),
      intervalMs: o.intervalMs,
      gcSettledEvery: o.gcSettledEvery,
      now: o.now,
      phase: o.phase,
      requests: o.requests,
      onSample: (s) => {
        this.latest = s;
        writer.sample(s);
      },
    });
  }

  /** The newest sample taken, if any. */
  lastSample(): Sample | undefined {
    return this.latest;
  }

  /** Starts sampling. */
  start(): void {
    this.sampler.start();
  }

  /**
   * Before phase `i`: allocation sampling starts with the first steady phase, and a phase
   * with `snapshots: N` (N > 1) gets a watch that takes snapshots 1..N−1 as it passes each
   * N-th of its length (requests completed, or time for a phase given by duration).
   */
  async beforePhase(i: number, p?: PhaseDef): Promise<void> {
    if (this.samplingAllocations() && i === this.steady[0]) await startAllocationSampling(this.target);
    if (p?.snapshot && (p.snapshots ?? 1) > 1 && this.o.snapshots && this.canSnapshot()) this.watchPhase(p);
  }

  /**
   * After phase `i` ran to its end: a phase that names a snapshot gets one (after a sample, so
   * the series has the point before it; with `snapshots: N`, the N-th of its series), and
   * allocation sampling stops with the last steady phase.
   */
  async afterPhase(i: number, p: PhaseDef): Promise<void> {
    const t = this.target;
    await this.endWatch();
    // The snapshot first: a spawned server's sampling runs in an inspector session of its
    // own, and V8 clears its heap object ids when that session ends — a snapshot taken
    // after would share no ids with the earlier ones, and every object would look old.
    if (p.snapshot && this.o.snapshots && this.canSnapshot()) {
      const n = p.snapshots ?? 1;
      await this.capture(n > 1 ? `${p.snapshot}-${n}` : p.snapshot, p.name);
    }
    if (this.samplingAllocations() && i === this.steady[this.steady.length - 1]) {
      const prof = await stopAllocationSampling(t, this.writer, p.name);
      if (prof) {
        this.record.heapProfiles.push({ file: relative(this.writer.dir, prof), phase: p.name });
        this.o.checkpoint?.();
      }
    }
  }

  private canSnapshot(): boolean {
    return this.target.diagnostics !== undefined || this.target.inspector !== undefined;
  }

  /** The watch of a phase with `snapshots: N`: polls its progress, one capture at a time. */
  private watch: { timer: NodeJS.Timeout; busy: Promise<void> | undefined; error?: unknown } | undefined;

  private watchPhase(p: PhaseDef): void {
    const n = p.snapshots!;
    const t0 = this.o.now();
    const r0 = this.o.requests();
    // A phase is given by exactly one of durationS and requests (the schema says so).
    const total = p.durationS !== undefined ? p.durationS * 1000 : (p.requests ?? 1);
    const progress = (): number => (p.durationS !== undefined ? this.o.now() - t0 : this.o.requests() - r0) / total;
    let next = 1;
    const w: NonNullable<Captures['watch']> = {
      timer: setInterval(() => {
        if (w.busy || next >= n || progress() < next / n) return;
        const label = `${p.snapshot}-${next++}`;
        w.busy = this.capture(label, p.name)
          .catch((e: unknown) => {
            w.error ??= e;
          })
          .finally(() => {
            w.busy = undefined;
          });
      }, WATCH_MS),
      busy: undefined,
    };
    w.timer.unref();
    this.watch = w;
  }

  /** Ends a phase's watch: a capture under way finishes first; its failure is the phase's. */
  private async endWatch(): Promise<void> {
    const w = this.watch;
    if (!w) return;
    clearInterval(w.timer);
    this.watch = undefined;
    await w.busy;
    if (w.error) throw w.error;
  }

  /** One heap snapshot, labelled, recorded in the run (after a sample, so the series has the point before it). */
  private async capture(label: string, phase: string): Promise<void> {
    await this.sampler.sampleOnce();
    this.o.emit(`heap snapshot '${label}'…`);
    const tMs = this.o.now();
    const s = await snapshot(this.target, this.writer, label);
    if (!s) return;
    this.record.snapshots.push({
      label,
      file: relative(this.writer.dir, s.file),
      phase,
      tMs: Math.round(tMs),
      captureMs: s.ms,
      bytes: s.bytes,
      isolate: 'main',
    });
    this.o.checkpoint?.();
    this.o.emit(`heap snapshot '${label}': ${formatBytes(s.bytes)} in ${s.ms} ms`);
  }

  /** Stops sampling (a sample under way finishes first) and any phase's snapshot watch. */
  async stop(): Promise<void> {
    if (this.watch) clearInterval(this.watch.timer);
    await this.sampler.stop();
  }

  /** Stops sampling and, while the target is alive, takes one last sample. */
  async finish(): Promise<void> {
    await this.endWatch().catch(() => undefined);
    await this.sampler.stop();
    if (this.target.alive()) await this.sampler.sampleOnce().catch(() => undefined);
  }

  private samplingAllocations(): boolean {
    return (this.o.allocationSampling ?? true) && this.steady.length > 0;
  }
}

/** Takes a heap snapshot of the target's main isolate into the run's snapshots folder. */
async function snapshot(target: Target, writer: RunWriter, label: string): Promise<CaptureResult | undefined> {
  if (target.diagnostics) {
    const { file, bytes, ms } = await target.diagnostics
      .call('heapSnapshot', { label }, 300_000)
      .catch((e: unknown) => {
        throw new LsError('LS_ERR_TARGET', `heap snapshot '${label}' failed: ${(e as Error).message}`, { cause: e });
      });
    return { file, bytes, ms };
  }
  if (target.inspector) {
    const file = join(writer.snapshotsDir, `${label}.heapsnapshot`);
    return { file, ...(await target.inspector.takeHeapSnapshot(file)) };
  }
  return undefined;
}

async function startAllocationSampling(t: Target): Promise<void> {
  if (t.diagnostics) {
    await t.diagnostics.call('allocationSamplingStart', {}).catch((e: unknown) => {
      throw new LsError('LS_ERR_TARGET', `allocation sampling could not start: ${(e as Error).message}`, { cause: e });
    });
  } else if (t.inspector) await t.inspector.startSampling();
}

async function stopAllocationSampling(t: Target, w: RunWriter, phase: string): Promise<string | undefined> {
  if (t.diagnostics) {
    const { file } = await t.diagnostics
      .call('allocationSamplingStop', { label: phase }, 300_000)
      .catch((e: unknown) => {
        throw new LsError('LS_ERR_TARGET', `allocation sampling could not stop: ${(e as Error).message}`, { cause: e });
      });
    const dest = join(w.profilesDir, basename(file));
    renameSync(file, dest);
    return dest;
  }
  if (t.inspector) {
    const profile = await t.inspector.stopSampling();
    const dest = join(w.profilesDir, `${phase}.heapprofile`);
    writeFileSync(dest, JSON.stringify(profile));
    return dest;
  }
  return undefined;
}
