/** Text rendering of the heap analyses for `leakscope heap …`: tables and paths. */
import type { HeapDiff } from '../analyzer/heap/diff.js';
import type { MatchedSite } from '../analyzer/heap/allocation-profile.js';
import type { HeapSourceLine } from '../common/analysis-format.js';
import type { LeakGroup, LeakReport } from '../analyzer/heap/leaks.js';
import { describeBackingStores } from '../analyzer/heap/backing-stores.js';
import { describeSources } from '../analyzer/heap/source-locations.js';
import type { HeapSummary } from '../analyzer/heap/summary.js';

import { formatBytes, formatCount, formatPercent } from '../common/format-numbers.js';

const pct = (part: number, whole: number): string => (whole > 0 ? formatPercent(part / whole) : '-');

const NUMERIC = /^(?:[+-]?[\d.,]+(?: (?:[KMGT]i)?B|%)?|-)$/;

/** Right-aligns columns of numbers and sizes, left-aligns the rest. */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const right = header.map((_, c) => rows.length > 0 && rows.every((r) => NUMERIC.test(r[c]!)));
  const line = (r: readonly string[]): string =>
    r
      .map((cell, c) => (right[c] ? cell.padStart(w[c]!) : cell.padEnd(w[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), line(w.map((x) => '-'.repeat(x))), ...rows.map(line)].join('\n') + '\n';
}

const clip = (s: string, n = 48): string => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

export function renderSummary(s: HeapSummary): string {
  const out = [
    `${s.file}: ${formatBytes(s.fileBytes)} on disk, ${formatCount(s.nodeCount)} nodes, ${formatCount(s.edgeCount)} edges, heap ${formatBytes(s.totalSize)}, ${s.classCount} classes`,
    '',
    table(
      ['Class', 'Count', 'Self size', 'Retained size', '% heap'],
      s.classes.map((r) => [
        clip(r.className),
        formatCount(r.count),
        formatBytes(r.selfSize),
        formatBytes(r.retainedSize),
        pct(r.retainedSize, s.totalSize),
      ]),
    ),
  ];
  if (s.topObjects.length) {
    out.push('Objects retaining most (shortest path from the GC roots):');
    for (const o of s.topObjects)
      out.push(`  ${formatBytes(o.retainedSize).padStart(10)}  ${o.path || `${o.className}@${o.id} (unreachable)`}`);
    out.push('');
  }
  return out.join('\n');
}

export function renderDiff(d: HeapDiff): string {
  const t = d.totals;
  return [
    `before: ${d.before.file} (${formatCount(d.before.nodeCount)} nodes, ${formatBytes(d.before.totalSize)})`,
    `after:  ${d.after.file} (${formatCount(d.after.nodeCount)} nodes, ${formatBytes(d.after.totalSize)})`,
    `${formatCount(t.newCount)} new, ${formatCount(t.deletedCount)} deleted objects; size delta ${formatBytes(t.deltaSize, true)} over ${d.changedClassCount} changed classes`,
    '',
    table(
      ['Class', '# New', '# Deleted', '# Delta', 'Alloc size', 'Freed size', 'Size delta'],
      d.rows.map((r) => [
        clip(r.className),
        formatCount(r.newCount),
        formatCount(r.deletedCount),
        formatCount(r.deltaCount, true),
        formatBytes(r.allocSize),
        formatBytes(r.freedSize),
        formatBytes(r.deltaSize, true),
      ]),
    ),
  ].join('\n');
}

/** A leak report whose groups may carry allocation sites (`heap leaks --profile`). */
export type LeaksWithSites = Omit<LeakReport, 'groups'> & {
  readonly groups: readonly (LeakGroup & {
    readonly allocationSites?: readonly MatchedSite[];
    readonly sourceLine?: HeapSourceLine | null;
  })[];
};

export function renderLeaks(r: LeaksWithSites): string {
  const middle = r.snapshots.slice(1, -1);
  const out = [
    `baseline ${r.files.baseline}`,
    ...middle.slice(0, -1).map((f) => `between  ${f}`),
    `target   ${r.files.target}`,
    `final    ${r.files.final}`,
    `${formatCount(r.candidateCount)} objects allocated between baseline and target are still alive in final, in groups still growing target → final: self ${formatBytes(r.candidateSelfSize)}, retained ${formatBytes(r.candidateRetainedSize)}`,
  ];
  if (r.stoppedCount > 0)
    out.push(
      `Not blamed: ${formatCount(r.stoppedCount)} group(s) grew after the baseline but not target → final (warm-up that stopped), largest: ${r.stopped
        .slice(0, 3)
        .map((s) => `${s.className} held by ${s.heldBy} (${formatBytes(s.retainedSize)})`)
        .join('; ')}`,
    );
  out.push('');
  if (r.candidateCount === 0) return out.concat('No leak candidates.', '').join('\n');
  out.push(
    'By retainer (class held through the owner alive since the baseline):',
    table(
      ['#', 'Class', 'Count', 'Self size', 'Retained size', 'Grew in', 'Held by'],
      r.groups.map((g, k) => [
        String(k + 1),
        clip(g.className, 32),
        formatCount(g.count),
        formatBytes(g.selfSize),
        formatBytes(g.retainedSize),
        `${g.grewInPairs}/${g.pairs}`,
        clip(g.heldBy, 40),
      ]),
    ),
    'Retainer paths (folded) and code:',
  );
  r.groups.forEach((g, k) => {
    out.push(`  ${k + 1}. ${g.readablePath}`);
    const code = describeSources(g.sites, g.allocationSites, g.sourceLine ?? undefined);
    if (code) out.push(`     ${code}`);
    if (g.backingStores) out.push(`     off-heap: ${describeBackingStores(g.backingStores)}`);
  });
  out.push('Full retainer paths:');
  r.groups.forEach((g, k) => out.push(`  ${k + 1}. ${g.path}`));
  out.push(
    '',
    'By class:',
    table(
      ['Class', 'Count', 'Self size', 'Retained size'],
      r.byClass.map((c) => [
        clip(c.className),
        formatCount(c.count),
        formatBytes(c.selfSize),
        formatBytes(c.retainedSize),
      ]),
    ),
  );
  return out.join('\n');
}
