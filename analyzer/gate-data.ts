/**
 * The gate's data-sufficiency checks: one per steady phase (ran or planned), failing with
 * "not enough data: steady phase X has N of M expected samples" when a run lacks the data its
 * checks need — a budget may list such a check under `optional`, and it is then skipped.
 * Apart from gate.ts so the budget checks and the data checks change independently.
 */
import type { Analysis } from '../common/analysis-format.js';
import { MIN_SAMPLE_SHARE } from './data-sufficiency.js';

/** A gate check of the `run` group (the shape of gate.ts' GateCheck, which imports this file). */
export interface DataCheck {
  readonly id: string;
  readonly group: 'run';
  readonly status: 'pass' | 'fail' | 'skip';
  readonly expected: string;
  readonly actual: string;
  readonly message: string;
}

/** `optional` holds check ids, or prefixes ending in `*` ("run.data.*"). */
export const isOptional = (id: string, optional: readonly string[]): boolean =>
  optional.some((o) => (o.endsWith('*') ? id.startsWith(o.slice(0, -1)) : id === o));

/**
 * @example dataChecks(analysis, ['run.data.recovery']).filter((c) => c.status === 'fail')
 */
export function dataChecks(a: Analysis, optional: readonly string[]): DataCheck[] {
  return (a.run.data ?? []).map((d) => {
    const id = `run.data.${d.phase}`;
    const expected = `≥ ${Math.ceil(d.expected * MIN_SAMPLE_SHARE)} samples (${MIN_SAMPLE_SHARE * 100}% of ${d.expected}) up to near its end, and load results`;
    const actual = `${d.samples} samples${d.hasResults ? '' : ', no load results'}`;
    if (!d.gap)
      return {
        id,
        group: 'run',
        status: 'pass',
        expected,
        actual,
        message: `${d.samples} of ${d.expected} expected samples`,
      };
    return {
      id,
      group: 'run',
      status: isOptional(id, optional) ? 'skip' : 'fail',
      expected,
      actual,
      message: `not enough data: ${d.gap}${isOptional(id, optional) ? ' (optional in this budget)' : ''}`,
    };
  });
}
