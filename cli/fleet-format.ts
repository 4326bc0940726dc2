/** `leakscope fleet`'s summary: counts, the worst instances with slopes and CIs, projections, the canary. */
import type { Estimate } from '../common/analysis-format.js';
import type { FleetResult, InstanceJudgement } from '../common/fleet-format.js';
import { formatPercent, formatQuantity } from '../common/format-numbers.js';

const bytes = (v: number) => formatQuantity(v, 'bytes');
const ci = (e: Estimate, f: (v: number) => string) =>
  `${f(e.estimate)} (${formatPercent(e.confidence)} CI ${f(e.low)} … ${f(e.high)})`;

function instanceLines(i: InstanceJudgement): string[] {
  const tag = i.group ? ` [${i.group}]` : '';
  const lines = [`  ${i.pass ? 'ok  ' : 'FAIL'} ${i.verdict.padEnd(7)} ${i.instance}${tag}`];
  const p = i.projection;
  const rss = [
    p.lastRssBytes !== null ? `RSS ${bytes(p.lastRssBytes)}` : null,
    p.rssPerHour ? `${ci(p.rssPerHour, bytes)}/h` : null,
    p.hoursToLimit !== null && p.limitBytes !== null
      ? `limit ${bytes(p.limitBytes)} in ${p.hoursToLimit < 48 ? `${p.hoursToLimit.toFixed(1)} h` : `${(p.hoursToLimit / 24).toFixed(1)} days`}`
      : null,
    i.restarts ? `${i.restarts} restart(s)${i.oomKills ? `, ${i.oomKills} OOM kill(s)` : ''}` : null,
  ].filter((x) => x !== null);
  if (rss.length) lines.push(`       ${rss.join(' · ')}`);
  for (const s of i.series) if (s.verdict === 'LEAK' || s.verdict === 'GROWING') lines.push(`       ${s.reason}`);
  for (const f of i.failures) lines.push(`       budget: ${f}`);
  return lines;
}

/**
 * Human summary of a fleet result; `worst` instances are listed in full.
 * @example io.stdout.write(renderFleetSummary(result, 10))
 */
export function renderFleetSummary(r: FleetResult, worst = 10): string {
  const c = r.counts;
  const lines = [
    `leakscope fleet: ${r.pass ? 'PASS' : 'FAIL'} — ${r.headline}`,
    `  ${r.query.prometheus} · ${r.query.selector} by ${r.query.groupBy} · ${r.query.start} → ${r.query.end} at ${r.query.stepSeconds}s · ${r.query.requests} queries, ≤ ${r.query.concurrency} at once`,
    `  instances ${c.instances}: LEAK ${c.LEAK} · GROWING ${c.GROWING} · STABLE ${c.STABLE} · INSUFFICIENT_DATA ${c.INSUFFICIENT_DATA} · restarts ${c.restarts} · OOM kills ${c.oomKills} · over budget ${c.failed}`,
    `  budget: ${r.settings.budget}`,
  ];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  const shown = r.instances.slice(0, worst);
  if (shown.length) lines.push('', `Worst ${shown.length} of ${r.instances.length}:`);
  for (const i of shown) lines.push(...instanceLines(i));
  if (r.canary) {
    const k = r.canary;
    lines.push(
      '',
      `Canary ${k.canarySelector} (${k.canaryInstances.length}) vs baseline ${k.baselineSelector} (${k.baselineInstances.length}): ${k.pass ? 'PASS' : 'FAIL'}`,
      `  ${k.headline}`,
    );
    for (const x of k.comparisons) lines.push(`  ${x.pass ? 'ok  ' : 'FAIL'} ${x.reason}`);
  }
  lines.push('');
  return lines.join('\n');
}
