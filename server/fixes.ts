/**
 * Modes and fix switches. `--mode leaky` turns every fix off (both production leaks, as
 * upstream had them); `--mode patched` turns every fix on; `--fixes a,b` picks a subset.
 * Each fix is a strategy chosen once at start-up (see session.ts, handler-threads.ts),
 * never a flag tested in the hot path.
 */
import { LsError } from '../common/errors.js';

export const FIXES = {
  'sort-inputs': 'TF Serving PR #1638: sort request inputs by name before the session, so one cache key per signature',
  'no-unsorted-insert': 'TensorFlow PR #39743: on a sorted-key hit, do not insert the unsorted key',
  'bounded-cache': 'leakscope: bound the executor cache with an LRU, as defence in depth',
  'thread-cap': 'TF Serving PR #1785: cap handler threads (--grpc_max_threads); past the cap answer RESOURCE_EXHAUSTED',
} as const;

export type FixName = keyof typeof FIXES;
export const ALL_FIXES = Object.keys(FIXES) as FixName[];
export type Mode = 'leaky' | 'patched' | 'custom';

export interface FixSet {
  readonly mode: Mode;
  readonly fixes: ReadonlySet<FixName>;
}

/**
 * Resolves `--mode` and `--fixes` into the set of fixes that are on.
 * @example resolveFixes('leaky') // { mode: 'leaky', fixes: Set{} }
 */
export function resolveFixes(mode: string | undefined, fixes?: string): FixSet {
  if (fixes !== undefined) {
    if (mode !== undefined && mode !== 'custom') {
      throw new LsError(
        'LS_ERR_INVALID_OPTION',
        `--fixes cannot be combined with --mode ${mode}; give one or the other`,
      );
    }
    const names = fixes
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    for (const n of names) {
      if (!(n in FIXES))
        throw new LsError('LS_ERR_INVALID_OPTION', `--fixes: unknown fix '${n}' (known: ${ALL_FIXES.join(', ')})`);
    }
    return Object.freeze({ mode: 'custom', fixes: new Set(names as FixName[]) });
  }
  const m = mode ?? 'patched';
  if (m === 'leaky') return Object.freeze({ mode: 'leaky', fixes: new Set<FixName>() });
  if (m === 'patched') return Object.freeze({ mode: 'patched', fixes: new Set(ALL_FIXES) });
  throw new LsError('LS_ERR_INVALID_OPTION', `--mode: expected leaky or patched, got '${m}'`);
}
