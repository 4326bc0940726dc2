/** The gate's one-screen summary: verdict, then every failed check, then the rest briefly. */
import type { GateCheck, GateResult } from '../analyzer/gate.js';

const MARK: Record<GateCheck['status'], string> = { pass: 'ok  ', fail: 'FAIL', skip: 'skip' };
const OUTCOME: Record<GateResult['outcome'], string> = {
  pass: 'PASS',
  fail: 'FAIL',
  inconclusive: 'INCONCLUSIVE (not enough data to decide; no leak or budget check failed)',
};

/**
 * Human summary of a gate result (fits one terminal screen for the default budget).
 * @example io.stdout.write(renderGateSummary(result))
 */
export function renderGateSummary(r: GateResult): string {
  const lines = [
    `leakscope gate: ${OUTCOME[r.outcome]} — ${r.scenario} (${r.mode}), verdict ${r.verdict}`,
    `  ${r.headline}`,
    `  run: ${r.runDir}`,
    `  budget: ${r.budget} · ${r.counts.pass} passed, ${r.counts.fail} failed, ${r.counts.skip} skipped`,
    '',
  ];
  const order = [...r.checks].sort((a, b) => rank(a) - rank(b));
  for (const c of order) {
    lines.push(`  ${MARK[c.status]} ${c.id}: ${c.actual} (expected ${c.expected})`);
    if (c.status === 'fail') lines.push(`       ${c.message}`);
  }
  lines.push('');
  return lines.join('\n');
}

const rank = (c: GateCheck) => (c.status === 'fail' ? 0 : c.status === 'pass' ? 1 : 2);
