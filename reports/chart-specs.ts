/**
 * What the report charts show, independent of where they are drawn (the browser for the
 * HTML, @napi-rs/canvas for the PNG copies): one chart per sampled series, over time and
 * over requests completed, with the run's phases marked.
 */
import type { Analysis, SeriesKey, SeriesUnit } from '../common/analysis-format.js';
import type { Sample } from '../common/run-format.js';
import { SERIES_SPECS } from '../analyzer/verdicts.js';
import type { RunData } from '../analyzer/run-reader.js';
import { median } from '../analyzer/series/median.js';

export type ChartAxis = 'time' | 'requests';

/** A series of samples.ndjson the report can chart. Keys match the analyzer's series keys where both exist. */
export interface SeriesDef {
  readonly key: string;
  readonly label: string;
  readonly unit: SeriesUnit;
  readonly get: (s: Sample) => number | undefined;
  /** Sparse series (only some samples have it) are drawn as points. */
  readonly sparse?: boolean;
}

/** "executor-cache entries" → "Executor-cache entries" (chart titles and table rows start a sentence). */
export const capitalize = (t: string): string => t.charAt(0).toUpperCase() + t.slice(1);

/** A series the analyzer judges, with the analyzer's own sample selection and label. */
function judged(key: SeriesKey, sparse = false): SeriesDef {
  const spec = SERIES_SPECS.find((x) => x.key === key);
  if (!spec) throw new Error(`analyzer has no series '${key}'`);
  return { key, label: capitalize(spec.label), unit: spec.unit, get: spec.pick, sparse };
}

/** Everything charted: the analyzer's series plus two that explain them (heap total, in-flight load). */
export const SERIES: readonly SeriesDef[] = [
  judged('rssBytes'),
  judged('heapUsedBytes'),
  judged('heapUsedSettledBytes', true),
  { key: 'heapTotalBytes', label: 'V8 heap total', unit: 'bytes', get: (s) => s.heapTotalBytes },
  judged('externalBytes'),
  judged('arrayBuffersBytes'),
  judged('cacheEntries'),
  judged('cacheKeyBytes'),
  judged('threads'),
  judged('handlerThreads'),
  { key: 'inflight', label: 'In-flight requests', unit: 'count', get: (s) => s.inflight },
  judged('openFds'),
];

export interface Dataset {
  readonly label: string;
  readonly color: string;
  /** [x, y] with y already in the chart's display unit (MiB for bytes). */
  readonly points: readonly (readonly [number, number])[];
  readonly showLine: boolean;
  readonly dashed?: boolean;
}

export interface PhaseBand {
  readonly name: string;
  readonly x0: number;
  readonly x1: number;
  readonly steady: boolean;
}

/** A heap capture: the target paused and its RSS may step there; the analyzer fits no slope across it. */
export interface CaptureLine {
  readonly label: string;
  readonly x: number;
}

export interface PhaseMarkers {
  readonly color: string;
  readonly dashed: boolean;
  /** Names are drawn for the first marker set only, so two runs' bands do not overprint. */
  readonly labels: boolean;
  readonly bands: readonly PhaseBand[];
  readonly captures?: readonly CaptureLine[];
}

export interface ChartSpec {
  /** File-name safe: `${seriesKey}-${axis}` (an index is added when a chart repeats). */
  readonly id: string;
  readonly seriesKey: string;
  readonly title: string;
  readonly axis: ChartAxis;
  readonly xLabel: string;
  readonly yLabel: string;
  readonly datasets: readonly Dataset[];
  readonly markers: readonly PhaseMarkers[];
  /** Fixed axis ranges, for small multiples that share their axes (default: from the data). */
  readonly bounds?: { readonly x?: readonly [number, number]; readonly y?: readonly [number, number] };
}

const MiB = 1024 * 1024;
/** Above this many points a dataset is reduced to the min and max of each bucket (the sawtooth stays visible). */
const MAX_POINTS = 1200;

const round = (v: number): number => (Number.isInteger(v) ? v : Number(v.toPrecision(6)));

function decimate(points: (readonly [number, number])[]): (readonly [number, number])[] {
  if (points.length <= MAX_POINTS) return points;
  const buckets = MAX_POINTS / 2;
  const out: (readonly [number, number])[] = [];
  for (let b = 0; b < buckets; b++) {
    const from = Math.floor((b * points.length) / buckets);
    const to = Math.floor(((b + 1) * points.length) / buckets);
    let lo = from;
    let hi = from;
    for (let i = from; i < to; i++) {
      if (points[i]![1] < points[lo]![1]) lo = i;
      if (points[i]![1] > points[hi]![1]) hi = i;
    }
    if (lo === hi) out.push(points[lo]!);
    else out.push(points[Math.min(lo, hi)]!, points[Math.max(lo, hi)]!);
  }
  return out;
}

/** A series' points of one run on one axis, in display units. */
export function seriesPoints(
  samples: readonly Sample[],
  def: SeriesDef,
  axis: ChartAxis,
): (readonly [number, number])[] {
  const pts: (readonly [number, number])[] = [];
  for (const s of samples) {
    const v = def.get(s);
    if (v === undefined || v === null || !Number.isFinite(v)) continue;
    const x = axis === 'time' ? s.t / 1000 : s.requests;
    pts.push([round(x), round(def.unit === 'bytes' ? v / MiB : v)]);
  }
  return decimate(pts);
}

/** Requests completed at time `t` (ms), interpolated between samples. */
export function requestsAt(samples: readonly Sample[], t: number): number {
  if (samples.length === 0) return 0;
  if (t <= samples[0]!.t) return samples[0]!.requests;
  for (let i = 1; i < samples.length; i++) {
    const b = samples[i]!;
    if (b.t >= t) {
      const a = samples[i - 1]!;
      return b.t === a.t ? b.requests : a.requests + ((b.requests - a.requests) * (t - a.t)) / (b.t - a.t);
    }
  }
  return samples[samples.length - 1]!.requests;
}

/** Phase bands of a run on one axis. */
export function phaseBands(run: RunData, axis: ChartAxis): PhaseBand[] {
  return run.manifest.phases.map((p) => ({
    name: p.name,
    steady: p.steady,
    x0: round(axis === 'time' ? p.startMs / 1000 : requestsAt(run.samples, p.startMs)),
    x1: round(axis === 'time' ? p.endMs / 1000 : requestsAt(run.samples, p.endMs)),
  }));
}

/** Heap captures of a run on one axis, labelled "snapshot <label>". */
export function captureLines(run: RunData, axis: ChartAxis): CaptureLine[] {
  return run.manifest.snapshots.map((c) => ({
    label: `snapshot ${c.label}`,
    x: round(axis === 'time' ? c.tMs / 1000 : requestsAt(run.samples, c.tMs)),
  }));
}

/** Series with at least one value in any of the runs, in SERIES order. */
export function presentSeries(runs: readonly RunData[]): SeriesDef[] {
  return SERIES.filter((d) => runs.some((r) => r.samples.some((s) => d.get(s) !== undefined)));
}

/** Names of /proc thread groups seen in a run (threadsByName), most threads first. */
export function threadNames(runs: readonly RunData[]): string[] {
  const peak = new Map<string, number>();
  for (const r of runs)
    for (const s of r.samples)
      for (const [n, c] of Object.entries(s.threadsByName ?? {})) peak.set(n, Math.max(peak.get(n) ?? 0, c));
  return [...peak.entries()].sort((a, b) => b[1] - a[1]).map(([n]) => n);
}

export const RUN_COLORS = ['#c2410c', '#1d4ed8'] as const;
/** Darker shades of the run colours for fitted trend lines. */
const FIT_COLORS = ['#7c2d12', '#0f172a'] as const;
const NAME_COLORS = ['#1d4ed8', '#c2410c', '#15803d', '#7e22ce', '#a16207', '#0e7490', '#be123c', '#4d7c0f'];

const axisLabel = (axis: ChartAxis): string => (axis === 'time' ? 'time (s)' : 'requests completed');
const unitLabel = (def: SeriesDef): string => (def.unit === 'bytes' ? 'MiB' : '');

export interface RunLabel {
  readonly run: RunData;
  /** Legend text, e.g. "A: leaky". */
  readonly label: string;
  /** When given, each judged series' Theil–Sen fit is drawn over its steady phases. */
  readonly analysis?: Analysis;
}

/**
 * The analyzer's slope as a line over the steady samples it was fitted on; the intercept is
 * Theil–Sen's (median of y − slope·x), which analysis.json does not store.
 */
function fitLine(r: RunLabel, def: SeriesDef, axis: ChartAxis, color: string): Dataset | undefined {
  const a = r.analysis?.series.find((x) => x.key === def.key);
  const slope = axis === 'time' ? a?.perSecond?.estimate : a?.perRequest?.estimate;
  if (!a || slope === undefined || !Number.isFinite(slope)) return undefined;
  const steady = new Set(a.phases);
  const pts: [number, number][] = [];
  for (const s of r.run.samples) {
    const v = def.get(s);
    if (steady.has(s.phase) && v !== undefined && Number.isFinite(v))
      pts.push([axis === 'time' ? s.t / 1000 : s.requests, v]);
  }
  if (pts.length < 2) return undefined;
  const b = median(pts.map(([x, y]) => y - slope * x))!;
  const scale = def.unit === 'bytes' ? MiB : 1;
  const x0 = pts[0]![0];
  const x1 = pts[pts.length - 1]![0];
  return {
    label: `${r.label === def.label ? '' : `${r.label}: `}trend (${a.verdict})`,
    color,
    dashed: true,
    showLine: true,
    points: [
      [round(x0), round((b + slope * x0) / scale)],
      [round(x1), round((b + slope * x1) / scale)],
    ],
  };
}

/**
 * The charts of one run or of two runs on shared axes: per series, over time and over
 * requests; then threads by /proc name when the target reported them.
 * @example chartSpecs([{ run, label: 'leaky' }]).map((c) => c.id) // ['rssBytes-time', 'rssBytes-requests', …]
 */
export function chartSpecs(runs: readonly RunLabel[]): ChartSpec[] {
  const data = runs.map((r) => r.run);
  const specs: ChartSpec[] = [];
  const markers = (axis: ChartAxis): PhaseMarkers[] =>
    runs.map((r, i) => ({
      color: runs.length > 1 ? RUN_COLORS[i % 2]! : '#475569',
      dashed: i > 0,
      labels: i === 0,
      bands: phaseBands(r.run, axis),
      captures: captureLines(r.run, axis),
    }));
  for (const def of presentSeries(data)) {
    for (const axis of ['time', 'requests'] as const) {
      specs.push({
        id: `${def.key}-${axis}`,
        seriesKey: def.key,
        title: `${def.label} over ${axis === 'time' ? 'time' : 'requests'}`,
        axis,
        xLabel: axisLabel(axis),
        yLabel: unitLabel(def),
        datasets: [
          ...runs.map((r, i) => ({
            label: runs.length > 1 ? r.label : def.label,
            color: runs.length > 1 ? RUN_COLORS[i % 2]! : RUN_COLORS[1],
            points: seriesPoints(r.run.samples, def, axis),
            showLine: !def.sparse,
          })),
          ...runs.flatMap(
            (r, i) => fitLine(runs.length > 1 ? r : { ...r, label: def.label }, def, axis, FIT_COLORS[i % 2]!) ?? [],
          ),
        ],
        markers: markers(axis),
      });
    }
  }
  const names = threadNames(data).slice(0, NAME_COLORS.length);
  if (names.length > 0) {
    const axis = 'time';
    specs.push({
      id: 'threadsByName-time',
      seriesKey: 'threadsByName',
      title: 'Threads by name over time',
      axis,
      xLabel: axisLabel(axis),
      yLabel: '',
      datasets: runs.flatMap((r, ri) =>
        names.map((n, i) => ({
          label: runs.length > 1 ? `${r.label}: ${n}` : n,
          color: NAME_COLORS[i]!,
          dashed: ri > 0,
          showLine: true,
          points: r.run.samples
            .filter((s) => s.threadsByName)
            .map((s) => [round(s.t / 1000), s.threadsByName![n] ?? 0] as const),
        })),
      ),
      markers: markers(axis),
    });
  }
  return specs;
}
