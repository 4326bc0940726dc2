/**
 * One `leakscope fleet` judgement in a process of its own, for bench:fleet: its wall time
 * and peak RSS are then the fleet command's alone. Prints one JSON line.
 * Usage: node fleet-child.js URL SELECTOR RANGE STEP END CONCURRENCY OUT_JSON
 */
import { writeFile } from 'node:fs/promises';
import { analyzeFleet } from '../../fleet/analyze-fleet.js';

const [url, selector, range, step, end, concurrency, out] = process.argv.slice(2);
const t0 = performance.now();
const result = await analyzeFleet({
  prometheus: url!,
  selector: selector!,
  range: range!,
  step: step!,
  end: end!,
  concurrency: Number(concurrency),
});
const wallMs = performance.now() - t0;
await writeFile(out!, JSON.stringify(result));
process.stdout.write(
  `${JSON.stringify({ wallMs, maxRssBytes: process.resourceUsage().maxRSS * 1024, requests: result.query.requests, peakConcurrency: result.query.concurrency })}\n`,
);
