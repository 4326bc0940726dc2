/** Test helper: the accounting every load phase's result must satisfy. */
import assert from 'node:assert/strict';
import type { PhaseResult } from '../../common/run-format.js';

/** Every planned request ends in exactly one place. */
export function assertAccounted(r: PhaseResult): void {
  const what = JSON.stringify({ ...r, latencyFromIntended: undefined, latencyFromSent: undefined });
  assert.equal(r.sent + r.dropped, r.planned, `planned = sent + dropped: ${what}`);
  assert.equal(r.completed + (r.cut ?? 0), r.sent, `sent = completed + cut: ${what}`);
  const byStatus = Object.values(r.statusCounts).reduce((a, b) => a + b, 0);
  assert.equal(byStatus, r.completed, `statuses add up to completed: ${what}`);
  assert.ok(r.errors <= r.completed, what);
  assert.equal(r.latencyFromIntended?.count ?? 0, r.completed);
  assert.equal(r.latencyFromSent?.count ?? 0, r.completed);
}
