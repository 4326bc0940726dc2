/**
 * JUnit XML for a gate result: one testsuite, one testcase per check (classname = check
 * group), <failure> with the numbers for failed checks, <skipped> for checks without data.
 * The de-facto schema read by GitHub Actions reporters, GitLab, Jenkins and Azure.
 */
import type { GateResult } from './gate.js';

/** Escapes text for XML content and attribute values; drops characters XML 1.0 forbids. */
export function xmlEscape(s: string): string {
  return s
    .replace(/[^\x09\x0A\x0D\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&apos;');
}

/**
 * The gate result as a JUnit XML document.
 * @example await writeFile('gate.xml', gateJunit(result))
 */
export function gateJunit(r: GateResult, timestamp = new Date().toISOString()): string {
  const a = (v: string | number) => `"${xmlEscape(String(v))}"`;
  const suite = `leakscope gate: ${r.scenario} (${r.mode})`;
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="leakscope gate" tests=${a(r.checks.length)} failures=${a(r.counts.fail)} skipped=${a(r.counts.skip)} errors="0">`,
    `  <testsuite name=${a(suite)} tests=${a(r.checks.length)} failures=${a(r.counts.fail)} skipped=${a(r.counts.skip)} errors="0" timestamp=${a(timestamp)}>`,
    '    <properties>',
    `      <property name="run" value=${a(r.runDir)}/>`,
    `      <property name="verdict" value=${a(r.verdict)}/>`,
    `      <property name="budget" value=${a(r.budget)}/>`,
    '    </properties>',
  ];
  for (const c of r.checks) {
    const open = `    <testcase name=${a(c.id)} classname=${a(`leakscope.gate.${c.group}`)} time="0"`;
    if (c.status === 'pass') {
      lines.push(`${open}/>`);
      continue;
    }
    lines.push(`${open}>`);
    if (c.status === 'fail') {
      lines.push(
        `      <failure message=${a(`expected ${c.expected}, got ${c.actual}`)} type="budget">${xmlEscape(`${c.id}: expected ${c.expected}; measured ${c.actual}\n${c.message}`)}</failure>`,
      );
    } else {
      lines.push(`      <skipped message=${a(c.message)}/>`);
    }
    lines.push('    </testcase>');
  }
  lines.push(`    <system-out>${xmlEscape(r.headline)}</system-out>`, '  </testsuite>', '</testsuites>', '');
  return lines.join('\n');
}
