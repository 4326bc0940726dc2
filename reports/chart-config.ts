/**
 * A ChartSpec as a Chart.js 4 configuration: plain JSON (no functions), so the same
 * object is embedded in the HTML and given to Chart.js in Node for the PNG copies. Phase
 * bands and the white background are drawn by `drawPhaseMarkers`, a self-contained
 * function that the HTML inlines through its source text (one implementation for both).
 */
import type { ChartSpec, PhaseMarkers } from './chart-specs.js';

export interface ChartConfigOptions {
  /** false for Node rendering (fixed canvas size); true in the browser. */
  readonly responsive: boolean;
}

/** The x axis ends with the data and the phases (Chart.js would round up to a "nice" bound, leaving a gap). */
function xRange(spec: ChartSpec): { min?: number; max?: number } {
  let min = Infinity;
  let max = -Infinity;
  for (const d of spec.datasets) for (const [x] of d.points) (min = Math.min(min, x)), (max = Math.max(max, x));
  for (const m of spec.markers) for (const b of m.bands) (min = Math.min(min, b.x0)), (max = Math.max(max, b.x1));
  return min < max ? { min: Math.min(0, min), max } : {};
}

/** Chart.js config of one chart (type 'line', linear x axis, no animation). */
export function chartConfig(spec: ChartSpec, opts: ChartConfigOptions): Record<string, unknown> {
  return {
    type: 'line',
    data: {
      datasets: spec.datasets.map((d) => ({
        label: d.label,
        data: d.points.map(([x, y]) => ({ x, y })),
        borderColor: d.color,
        backgroundColor: d.color,
        borderWidth: 1.5,
        borderDash: d.dashed ? [6, 4] : [],
        pointRadius: d.showLine ? 0 : 2.5,
        pointHoverRadius: 3,
        showLine: d.showLine,
        tension: 0,
        spanGaps: true,
      })),
    },
    options: {
      animation: false,
      responsive: opts.responsive,
      maintainAspectRatio: false,
      parsing: false,
      normalized: true,
      layout: { padding: { left: 4, right: 8, top: 2, bottom: 2 } },
      interaction: { mode: 'nearest', axis: 'x', intersect: false },
      scales: {
        x: {
          type: 'linear',
          ...(spec.bounds?.x ? { min: spec.bounds.x[0], max: spec.bounds.x[1] } : xRange(spec)),
          title: { display: true, text: spec.xLabel },
          ticks: { maxTicksLimit: 8, includeBounds: false },
        },
        y: {
          type: 'linear',
          ...(spec.bounds?.y ? { min: spec.bounds.y[0], max: spec.bounds.y[1] } : {}),
          title: { display: spec.yLabel !== '', text: spec.yLabel },
          ticks: { maxTicksLimit: 6 },
        },
      },
      plugins: {
        title: { display: true, text: spec.title, align: 'start', font: { size: 13, weight: 'bold' } },
        legend: { display: spec.datasets.length > 1, position: 'bottom', labels: { boxWidth: 12, boxHeight: 2 } },
        tooltip: { enabled: opts.responsive },
        phaseMarkers: { markers: spec.markers },
      },
    },
  };
}

/** The parts of a Chart.js chart `drawPhaseMarkers` uses (structural, so no DOM types are needed). */
export interface MarkerChart {
  readonly ctx: {
    save(): void;
    restore(): void;
    fillStyle: unknown;
    strokeStyle: unknown;
    lineWidth: number;
    font: string;
    textBaseline: string;
    beginPath(): void;
    moveTo(x: number, y: number): void;
    lineTo(x: number, y: number): void;
    stroke(): void;
    fillRect(x: number, y: number, w: number, h: number): void;
    fillText(t: string, x: number, y: number): void;
    measureText(t: string): { width: number };
    setLineDash(d: number[]): void;
    rect(x: number, y: number, w: number, h: number): void;
    clip(): void;
  };
  readonly width: number;
  readonly height: number;
  readonly chartArea: { left: number; right: number; top: number; bottom: number };
  readonly scales: { x: { getPixelForValue(v: number): number } };
}

/**
 * Draws the phases of each run: steady phases shaded, a line at each phase start, the
 * phase's name at the top, and a labelled violet line at each heap capture (canvas text:
 * never parsed as markup). `when` 'background'
 * paints the canvas white first (PNG copies are otherwise transparent).
 * Must stay self-contained: the HTML inlines its source text.
 */
export function drawPhaseMarkers(
  chart: MarkerChart,
  markers: readonly PhaseMarkers[],
  when: 'background' | 'bands',
): void {
  const ctx = chart.ctx;
  const area = chart.chartArea;
  ctx.save();
  if (when === 'background') {
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, chart.width, chart.height);
    ctx.restore();
    return;
  }
  ctx.beginPath();
  ctx.rect(area.left, area.top, area.right - area.left, area.bottom - area.top);
  ctx.clip();
  ctx.font = '11px sans-serif';
  ctx.textBaseline = 'top';
  for (const m of markers) {
    for (let i = 0; i < m.bands.length; i++) {
      const b = m.bands[i]!;
      const x0 = chart.scales.x.getPixelForValue(b.x0);
      const x1 = chart.scales.x.getPixelForValue(b.x1);
      if (b.steady && !m.dashed) {
        ctx.fillStyle = 'rgba(21, 128, 61, 0.06)';
        ctx.fillRect(x0, area.top, Math.max(0, x1 - x0), area.bottom - area.top);
      }
      if (i > 0) {
        ctx.strokeStyle = m.color;
        ctx.lineWidth = 1;
        ctx.setLineDash(m.dashed ? [4, 4] : [2, 3]);
        ctx.beginPath();
        ctx.moveTo(x0, area.top);
        ctx.lineTo(x0, area.bottom);
        ctx.stroke();
      }
      if (m.labels && ctx.measureText(b.name).width < x1 - x0 - 6) {
        ctx.fillStyle = '#334155';
        ctx.fillText(b.name, x0 + 3, area.top + 3);
      }
    }
    // Heap captures: a solid violet line each, labelled at the bottom (first run's only).
    for (const c of m.captures ?? []) {
      const x = chart.scales.x.getPixelForValue(c.x);
      ctx.strokeStyle = '#7e22ce';
      ctx.lineWidth = 1.5;
      ctx.setLineDash(m.dashed ? [4, 4] : []);
      ctx.beginPath();
      ctx.moveTo(x, area.top);
      ctx.lineTo(x, area.bottom);
      ctx.stroke();
      if (m.labels) {
        ctx.fillStyle = '#7e22ce';
        ctx.fillText(c.label, x + 3, area.bottom - 14);
      }
    }
  }
  ctx.restore();
}

/** Chart.js plugin object around `drawPhaseMarkers` (Node side; the browser builds the same from the source text). */
export const phaseMarkersPlugin = {
  id: 'phaseMarkers',
  beforeDraw(chart: MarkerChart, _args: unknown, o: { markers?: readonly PhaseMarkers[] }): void {
    drawPhaseMarkers(chart, o.markers ?? [], 'background');
  },
  beforeDatasetsDraw(chart: MarkerChart, _args: unknown, o: { markers?: readonly PhaseMarkers[] }): void {
    drawPhaseMarkers(chart, o.markers ?? [], 'bands');
  },
};
