/**
 * Modes and fix switches. `--mode leaky` turns every fix off (both production leaks, as
 * upstream had them); `--mode patched` turns every fix on; `--fixes a,b` picks a subset.
 * Each fix is a strategy chosen once at start-up (see session.ts, thread-admission.ts),
 * never a flag tested in the hot path.
 */
import { LsError } from './errors.js';
import { type Mode, modeSchema } from './mode.js';
import { asFlags, v, validate } from './validate.js';

export const FIXES = {
  'sort-inputs': 'TF Serving PR #1638: sort request inputs by name before the session, so one cache key per signature',
  'no-unsorted-insert': 'TensorFlow PR #39743: on a sorted-key hit, do not insert the unsorted key',
  'bounded-cache': 'leakscope: bound the executor cache with an LRU, as defence in depth',
  'thread-cap': 'TF Serving PR #1785: cap handler threads (--grpc_max_threads); past the cap answer RESOURCE_EXHAUSTED',
} as const;

export type FixName = keyof typeof FIXES;
export const ALL_FIXES = Object.keys(FIXES) as [FixName, ...FixName[]];

export interface FixSet {
  /** 'custom' when --fixes picked the set. */
  readonly mode: Mode | 'custom';
  readonly fixes: ReadonlySet<FixName>;
}

/** `--fixes a,b`: comma-separated fix names, each one known. */
export const fixListSchema = v.pipe(
  v.string(),
  v.transform((s) =>
    s
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean),
  ),
  v.array(v.picklist(ALL_FIXES, (i) => `unknown fix ${JSON.stringify(i.input)} (known: ${ALL_FIXES.join(', ')})`)),
);

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
    const names = validate(fixListSchema, fixes, asFlags('fixes'));
    return Object.freeze({ mode: 'custom', fixes: new Set(names) });
  }
  const m = validate(modeSchema, mode ?? 'patched', asFlags('mode'));
  return Object.freeze({ mode: m, fixes: new Set<FixName>(m === 'leaky' ? [] : ALL_FIXES) });
}
