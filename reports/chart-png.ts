/**
 * PNG copies of the report's charts, drawn by Chart.js on @napi-rs/canvas: its native
 * binary ships inside an npm package per platform, so `npm ci` alone installs it (the
 * `canvas` package behind chartjs-node-canvas compiles against cairo/pango when its
 * prebuilt download fails). See docs/reports.md.
 */
import { createCanvas } from '@napi-rs/canvas';
import { Chart, registerables } from 'chart.js';
import { chartConfig, phaseMarkersPlugin } from './chart-config.js';
import type { ChartSpec } from './chart-specs.js';

let registered = false;

export interface PngSize {
  readonly width?: number;
  readonly height?: number;
}

/**
 * One chart as PNG bytes (Chart.js without animation or responsiveness, device pixel ratio 1).
 * @example writeFileSync('rss.png', await renderChartPng(chartSpecs([{ run, label: 'x' }])[0]!))
 */
export async function renderChartPng(spec: ChartSpec, size: PngSize = {}): Promise<Buffer> {
  if (!registered) {
    Chart.register(...registerables);
    registered = true;
  }
  const canvas = createCanvas(size.width ?? 900, size.height ?? 340);
  const config = chartConfig(spec, { responsive: false }) as { options: Record<string, unknown> };
  config.options['devicePixelRatio'] = 1;
  // Chart.js types want DOM canvas types; @napi-rs/canvas provides the same 2D API.
  const chart = new Chart(canvas as never, { ...config, plugins: [phaseMarkersPlugin] } as never);
  try {
    return await canvas.encode('png');
  } finally {
    chart.destroy();
  }
}
