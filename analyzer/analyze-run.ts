/**
 * A run directory analysed: series verdicts over the steady phases, thread analysis,
 * heap diff and leak candidates when snapshots were taken, load summary per phase, and
 * the overall verdict with its culprit. Written to the run directory as analysis.json.
 */
import { statSync } from 'node:fs';
import { writeJsonAtomic } from '../common/json-file.js';
import { join, resolve } from 'node:path';
import {
  ANALYSIS_FORMAT,
  type Analysis,
  type CaptureMark,
  type Culprit,
  type HeapSection,
  type OverallVerdict,
  type PhaseLoadSummary,
  type SeriesAnalysis,
  type SteadyPhaseData,
} from '../common/analysis-format.js';
import {
  ANALYSIS_FILE,
  type PhaseRecord,
  type RunManifest,
  type RunResults,
  type Sample,
  type SnapshotRecord,
} from '../common/run-format.js';
import { VERSION } from '../common/version.js';
import { formatQuantity } from '../common/format-numbers.js';
import { diffHeaps } from './heap/diff.js';
import { analyzeSnapshot, loadClassifiedHeap } from './heap/heap-analysis.js';
import { IdSet } from './heap/id-set.js';
import { readProfileJson } from './heap/allocation-profile.js';
import { findLeaksIn, targetStage } from './heap/leaks.js';
import { codeOfGroups, type GroupCode, type GroupForCode } from './heap/source-lines.js';
import { describeSources } from './heap/source-locations.js';
import { loadStage } from './heap/snapshot-stages.js';
import { steadyPhaseData } from './data-sufficiency.js';
import type { RunData } from './run-reader.js';
import { analyzeThreads } from './series/threads.js';
import {
  judgeSeries,
  overallVerdict,
  reconcileHeapSeries,
  SERIES_SPECS,
  seriesPoints,
  VERDICT_DEFAULTS,
  type VerdictOptions,
} from './verdicts.js';

export interface AnalyzeOptions extends VerdictOptions {
  /** Analyse heap snapshots when the manifest lists them (default true). */
  readonly heap?: boolean;
  /** Snapshots larger than this (bytes, each) are not analysed (default 512 MiB), with a note. */
  readonly maxSnapshotBytes?: number;
  /** Rows kept in heap tables (default 20). */
  readonly top?: number;
  /** Phase to treat as the spike for thread analysis (default: found by name or in-flight load). */
  readonly spikePhase?: string;
  /**
   * The first this-many ms of each steady phase are left out of the growth statistics
   * (default 2000): a phase starts after a pause (a heap snapshot, the previous phase's
   * drain), and the server's pools refill then — a one-time step, not growth. Phases
   * shorter than 3× this keep all their samples.
   */
  readonly settleMs?: number;
}

export const DEFAULT_SETTLE_MS = 2000;

/**
 * Samples minus each phase's settling window (see AnalyzeOptions.settleMs) and minus the
 * samples taken during a heap capture or within `settleMs` after it (the target was paused
 * and its pools refill), wherever in a phase the capture was.
 */
export function settledSamples(
  samples: readonly Sample[],
  phases: readonly PhaseRecord[],
  settleMs: number,
  captures: readonly CaptureMark[] = [],
): Sample[] {
  const skipUntil = new Map<string, number>();
  for (const p of phases) if (p.endMs - p.startMs >= 3 * settleMs) skipUntil.set(p.name, p.startMs + settleMs);
  const paused = (t: number) => captures.some((c) => t > c.tMs && t < c.tMs + c.captureMs + settleMs);
  return samples.filter((s) => s.t >= (skipUntil.get(s.phase) ?? -Infinity) && !paused(s.t));
}

/** The run's heap captures, in time order. */
export function captureMarks(m: RunManifest): CaptureMark[] {
  return m.snapshots
    .map((s) => ({ label: s.label, phase: s.phase, tMs: s.tMs, captureMs: s.captureMs }))
    .sort((a, b) => a.tMs - b.tMs);
}

export const DEFAULT_MAX_SNAPSHOT_BYTES = 512 * 1024 * 1024;

/**
 * Steady phases. None marked steady (e.g. a spike scenario) means no growth statistics:
 * a spike raises RSS by design, and calling that growth a leak would be a false alarm.
 */
function steadyPhases(m: RunManifest, warnings: string[]): string[] {
  const steady = m.phases.filter((p) => p.steady).map((p) => p.name);
  if (!steady.length)
    warnings.push('no phase is marked steady: series growth is not judged (INSUFFICIENT_DATA); threads are');
  return steady;
}

function phaseSummaries(m: RunManifest, results: RunResults): PhaseLoadSummary[] {
  return results.phases.map((r) => {
    const rec = m.phases.find((p) => p.name === r.name);
    const lat = r.latencyFromIntended ?? r.latencyFromSent;
    return {
      name: r.name,
      steady: rec?.steady ?? false,
      transport: r.transport,
      startMs: rec?.startMs ?? null,
      endMs: rec?.endMs ?? null,
      planned: r.planned,
      sent: r.sent,
      completed: r.completed,
      dropped: r.dropped,
      errors: r.errors,
      errorRate: r.completed > 0 ? r.errors / r.completed : 0,
      droppedRate: r.planned > 0 ? r.dropped / r.planned : 0,
      achievedRate: r.achievedRate,
      statusCounts: r.statusCounts,
      latency: lat
        ? {
            basis: r.latencyFromIntended ? 'intended' : 'sent',
            p50Ms: lat.p50Ms,
            p90Ms: lat.p90Ms,
            p99Ms: lat.p99Ms,
            p999Ms: lat.p999Ms,
            maxMs: lat.maxMs,
            meanMs: lat.meanMs,
          }
        : null,
    };
  });
}

/** A snapshot's label without the `-<k>` of a phase's series (`snapshots: N`). */
const baseLabel = (label: string): string => label.replace(/-\d+$/, '');

/**
 * The main-isolate snapshots from the baseline to the final one, in the order taken: the
 * last labelled baseline (or the first of a baseline series), then every snapshot after
 * it up to the last labelled final (or of a final series). Fewer than two: null.
 */
export function snapshotSequence(m: RunManifest): SnapshotRecord[] | null {
  const main = m.snapshots.filter((s) => (s.isolate ?? 'main') === 'main');
  const last = (label: string): number => main.findLastIndex((s) => baseLabel(s.label) === label);
  let from = main.findLastIndex((s) => s.label === 'baseline');
  if (from < 0) from = main.findIndex((s) => baseLabel(s.label) === 'baseline');
  const to = last('final');
  if (from < 0 || to <= from) return null;
  return main.slice(from, to + 1);
}

/**
 * Heap diff baseline → final and N-snapshot leak candidates, with allocation sites from
 * the run's sampling profile when there is one. Failures and oversized snapshots give a
 * note, never an exception: the series verdicts stand on their own.
 */
async function analyzeHeap(run: RunData, opts: AnalyzeOptions, warnings: string[]): Promise<HeapSection | null> {
  const m = run.manifest;
  const seq = snapshotSequence(m);
  if (!seq) return null;
  const b = seq[0]!;
  const f = seq[seq.length - 1]!;
  const middle = seq.slice(1, -1);
  const t = middle[middle.length - 1];
  const top = opts.top ?? 20;
  const max = opts.maxSnapshotBytes ?? DEFAULT_MAX_SNAPSHOT_BYTES;
  const path = (r: SnapshotRecord) => join(run.dir, r.file);
  const files = t
    ? { baseline: b.file, target: t.file, final: f.file, ...(seq.length > 3 ? { series: seq.map((r) => r.file) } : {}) }
    : null;
  try {
    for (const r of seq) {
      const size = statSync(path(r)).size;
      if (size > max)
        return {
          snapshots: files,
          diff: null,
          leaks: null,
          note: `snapshot ${r.file} is ${formatQuantity(size, 'bytes')}, above the ${formatQuantity(max, 'bytes')} limit; run \`leakscope heap leaks\` on it directly`,
        };
    }
    // The files are parsed at once (the final's parse also puts its nodes and edges on
    // worker threads). Baseline classified once: its ids serve the leak analysis, its
    // classes the diff. The snapshots between: node ids; the target whole, for its group
    // census and its heap size, the growth the culprit explains (leaks.ts `targetStage`).
    const [before, stages, targetHeap, final] = await Promise.all([
      loadClassifiedHeap(path(b)),
      Promise.all(middle.slice(0, -1).map((r) => loadStage(path(r)))),
      t ? loadClassifiedHeap(path(t)) : null,
      analyzeSnapshot(path(f)),
    ]);
    const d = diffHeaps(before, final, { top });
    const diff = {
      before: { ...d.before, file: b.file },
      after: { ...d.after, file: f.file },
      rows: d.rows,
      changedClassCount: d.changedClassCount,
      totals: d.totals,
    };
    const baseline = { file: b.file, ids: new IdSet(before.graph.nodeId), totalSize: d.before.totalSize };
    const target = t && targetHeap ? targetStage(t.file, targetHeap, baseline.ids) : null;
    let leaks: HeapSection['leaks'] = null;
    if (target) {
      const r = findLeaksIn([baseline, ...stages, target], final, f.file, { top });
      const code = groupCode(run, r.groups, warnings);
      leaks = {
        candidateCount: r.candidateCount,
        candidateRetainedSize: r.candidateRetainedSize,
        byClass: r.byClass,
        groups: r.groups.map((g, k) => ({
          className: g.className,
          count: g.count,
          selfSize: g.selfSize,
          retainedSize: g.retainedSize,
          heldBy: g.heldBy,
          path: g.path,
          steps: g.steps.map((s) => ({
            ...(s.edge ? { edge: s.edge } : {}),
            node: { id: s.node.id, type: s.node.type, className: s.node.className, text: s.node.text },
          })),
          readablePath: g.readablePath,
          codeSites: g.sites,
          allocationSites: code[k]!.allocationSites,
          ...(code[k]!.sourceLine ? { sourceLine: code[k]!.sourceLine } : {}),
          ...(g.backingStores ? { backingStores: g.backingStores } : {}),
          newPerInterval: g.newPerInterval,
          grewInPairs: g.grewInPairs,
          pairs: g.pairs,
        })),
        stopped: r.stopped,
        stoppedCount: r.stoppedCount,
      };
    }
    return {
      snapshots: files,
      diff,
      leaks,
      ...(target
        ? { targetTotalSize: target.totalSize }
        : { note: 'no target snapshot: diff only, no leak candidates' }),
    };
  } catch (e) {
    const msg = `heap analysis skipped: ${(e as Error).message}`;
    warnings.push(msg);
    return { snapshots: files, diff: null, leaks: null, note: msg };
  }
}

/**
 * Allocation sites per group from the run's (last) sampling profile, and each group's
 * statement (source-lines.ts). A bad profile is a warning; the statement is still looked for.
 */
function groupCode(run: RunData, groups: readonly GroupForCode[], warnings: string[]): readonly GroupCode[] {
  const rec = run.manifest.heapProfiles?.at(-1);
  if (rec) {
    try {
      return codeOfGroups(groups, { data: readProfileJson(join(run.dir, rec.file)), file: rec.file });
    } catch (e) {
      warnings.push(`allocation sites skipped: ${(e as Error).message}`);
    }
  }
  return codeOfGroups(groups);
}

/**
 * The top leak-candidate group. Its share is of the heap growth baseline → target, the
 * window its objects were allocated in (baseline → final when the target size is unknown).
 */
function culpritOf(heap: HeapSection | null): Culprit | null {
  const g = heap?.leaks?.groups[0];
  if (!g) return null;
  const source = describeSources(g.codeSites, g.allocationSites, g.sourceLine);
  const code = {
    ...(source ? { source } : {}),
    ...(g.readablePath ? { readablePath: g.readablePath } : {}),
    ...(g.sourceLine ? { sourceLine: g.sourceLine } : {}),
    ...(g.backingStores ? { backingStores: g.backingStores } : {}),
  };
  const base = { className: g.className, heldBy: g.heldBy, path: g.path, retainedSize: g.retainedSize, count: g.count };
  if (!heap.diff) return { ...base, growthShare: null, growthBasis: null, ...code };
  const before = heap.diff.before.totalSize;
  const [to, what] =
    heap.targetTotalSize !== undefined ? [heap.targetTotalSize, 'target'] : [heap.diff.after.totalSize, 'final'];
  const growth = to - before;
  return {
    ...base,
    growthShare: growth > 0 ? g.retainedSize / growth : null,
    growthBasis: growth > 0 ? `heap growth baseline → ${what} snapshot: ${formatQuantity(growth, 'bytes')}` : null,
    ...code,
  };
}

/**
 * The most connections the steady phases' HTTP load may hold open: a closed loop's
 * `connections`, an open model's `maxInflight` (its pool holds one connection per request in
 * flight). Undefined without a steady HTTP phase (gRPC channels are not counted here).
 */
function loadConnections(phases: RunManifest['phases']): number | undefined {
  const bounds = phases
    .filter((p) => p.steady && (p.transport === 'http' || p.transport === 'rest'))
    .map((p) => (typeof p.load.connections === 'number' ? p.load.connections : p.load.maxInflight))
    .filter((n): n is number => typeof n === 'number' && n > 0);
  return bounds.length ? Math.max(...bounds) : undefined;
}

/**
 * Analyses a run read by `readRun`: the work behind `leakscope report` / `gate` before
 * rendering.
 * @example const a = await analyzeRun(readRun('runs/x')); a.overall.verdict // 'LEAK'
 */
export async function analyzeRun(run: RunData, opts: AnalyzeOptions = {}): Promise<Analysis> {
  const m = run.manifest;
  const warnings = [...run.warnings];
  const steady = steadyPhases(m, warnings);
  const steadySet = new Set(steady);
  let series: SeriesAnalysis[] = [];
  const captures = captureMarks(m);
  const judged = settledSamples(run.samples, m.phases, opts.settleMs ?? DEFAULT_SETTLE_MS, captures);
  for (const spec of SERIES_SPECS) {
    const pts = seriesPoints(judged, spec, steadySet, captures);
    // A series the target never reported is absent, not INSUFFICIENT_DATA.
    if (!run.samples.some((s) => spec.pick(s) !== undefined)) continue;
    const used = steady.filter((p) => run.samples.some((s) => s.phase === p && spec.pick(s) !== undefined));
    // The headline states the requests the fitted phases sent, not the samples' span.
    const requestsSent = run.results.phases.filter((r) => used.includes(r.name)).reduce((a, r) => a + r.sent, 0);
    series.push(judgeSeries(spec, pts, used, requestsSent > 0 ? { ...opts, requestsSent } : opts));
  }
  series = reconcileHeapSeries(series);
  const threads = analyzeThreads(m.phases, run.samples, {
    confidence: opts.confidence ?? VERDICT_DEFAULTS.confidence,
    ...(opts.spikePhase ? { spikePhase: opts.spikePhase } : {}),
    ...(m.host?.cpus ? { cpus: m.host.cpus } : {}),
  });
  const heap = opts.heap === false ? null : await analyzeHeap(run, opts, warnings);
  const culprit = culpritOf(heap);
  const last = run.samples[run.samples.length - 1];
  const data = steadyPhaseData(run);
  const overall = withoutStableOnGaps(
    overallVerdict(series, threads, culprit, { loadConnections: loadConnections(m.phases) }),
    data,
  );
  return {
    format: ANALYSIS_FORMAT,
    tool: { name: 'leakscope', version: VERSION },
    analyzedAt: new Date().toISOString(),
    run: {
      dir: run.dir,
      runId: m.runId,
      scenario: m.scenario.name,
      mode: m.target.kind === 'spawned' ? m.target.mode : 'external',
      status: m.status,
      startedAt: m.startedAt,
      endedAt: m.endedAt,
      sampleCount: run.samples.length,
      steadyPhases: steady,
      requests: last?.requests ?? 0,
      data,
    },
    settings: {
      ...(m.host?.cpus ? { cpus: m.host.cpus } : {}),
      confidence: opts.confidence ?? VERDICT_DEFAULTS.confidence,
      alpha: opts.alpha ?? VERDICT_DEFAULTS.alpha,
      minSamples: opts.minSamples ?? VERDICT_DEFAULTS.minSamples,
      maxPairsSamples: opts.maxSamples ?? VERDICT_DEFAULTS.maxSamples,
    },
    overall,
    captures,
    series,
    threads,
    heap,
    phases: phaseSummaries(m, run.results),
    warnings,
  };
}

/** Missing steady data proves nothing stable: a STABLE overall verdict on a run with gaps is INSUFFICIENT_DATA. */
function withoutStableOnGaps(o: OverallVerdict, data: readonly SteadyPhaseData[]): OverallVerdict {
  const gaps = data.flatMap((d) => (d.gap ? [d.gap] : []));
  if (o.verdict !== 'STABLE' || !gaps.length) return o;
  const { inconclusive: _stood, ...rest } = o;
  return { ...rest, verdict: 'INSUFFICIENT_DATA', headline: `Not enough data for a verdict: ${gaps.join('; ')}` };
}

/**
 * Writes analysis.json into the run directory (atomically: temp file, then rename) and
 * returns its path.
 * @example await writeAnalysis(run.dir, await analyzeRun(run))
 */
export async function writeAnalysis(dir: string, analysis: Analysis): Promise<string> {
  const file = join(resolve(dir), ANALYSIS_FILE);
  writeJsonAtomic(file, analysis);
  return file;
}
