import assert from 'node:assert/strict';
import { test } from 'node:test';
import { phaseSummaryLine } from '../../cli/phase-summary.js';
import type { LatencySummary, PhaseResult } from '../../common/run-format.js';

const lat = (p50Ms: number, p99Ms: number): LatencySummary => ({
  count: 10,
  meanMs: p50Ms,
  p50Ms,
  p90Ms: p99Ms,
  p99Ms,
  p999Ms: p99Ms,
  maxMs: p99Ms,
});

test('the run summary prints p50/p99 from intended and from sent for every transport, "–" where a closed loop has none', () => {
  const base: PhaseResult = {
    name: 'steady',
    transport: 'rest',
    planned: 600,
    sent: 598,
    completed: 597,
    dropped: 2,
    cut: 1,
    statusCounts: { '200': 590, '429': 7 },
    errors: 7,
    achievedRate: 199,
    latencyFromIntended: lat(1.234, 45.67),
    latencyFromSent: lat(1.1, 12),
  };
  assert.equal(
    phaseSummaryLine(base),
    'steady: 597/600 completed, 2 dropped, 1 cut, 7 errors, p50/p99 1.23/45.7 ms from intended, 1.10/12.0 ms from sent · 200=590 429=7',
  );
  const { latencyFromIntended: _, cut: __, ...closed } = base;
  assert.match(phaseSummaryLine(closed), /0 cut, 7 errors, p50\/p99 – from intended, 1\.10\/12\.0 ms from sent/);
});
