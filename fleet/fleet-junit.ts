/**
 * JUnit XML for a fleet judgement: one testcase per instance (its budget failures as the
 * failure) and one per canary comparison, so CI systems show which pod or series failed.
 */
import type { FleetResult } from '../common/fleet-format.js';
import { xmlEscape } from '../analyzer/junit.js';

/**
 * The fleet result as a JUnit XML document.
 * @example await writeFile('fleet.xml', fleetJunit(result))
 */
export function fleetJunit(r: FleetResult, timestamp = new Date().toISOString()): string {
  const a = (v: string | number) => `"${xmlEscape(String(v))}"`;
  const cases: string[] = [];
  let failures = 0;
  for (const i of r.instances) {
    const open = `    <testcase name=${a(i.instance)} classname="leakscope.fleet.instance" time="0"`;
    if (i.pass) cases.push(`${open}/>`);
    else {
      failures++;
      cases.push(
        `${open}>`,
        `      <failure message=${a(i.headline)} type="budget">${xmlEscape(i.failures.join('\n'))}</failure>`,
        '    </testcase>',
      );
    }
  }
  for (const c of r.canary?.comparisons ?? []) {
    const open = `    <testcase name=${a(c.key)} classname="leakscope.fleet.canary" time="0"`;
    if (c.pass) cases.push(`${open}/>`);
    else {
      failures++;
      cases.push(`${open}>`, `      <failure message=${a(c.reason)} type="canary"/>`, '    </testcase>');
    }
  }
  const tests = r.instances.length + (r.canary?.comparisons.length ?? 0);
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="leakscope fleet" tests=${a(tests)} failures=${a(failures)} errors="0">`,
    `  <testsuite name=${a(`leakscope fleet: ${r.query.selector}`)} tests=${a(tests)} failures=${a(failures)} errors="0" timestamp=${a(timestamp)}>`,
    ...cases,
    `    <system-out>${xmlEscape(r.headline)}</system-out>`,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}
