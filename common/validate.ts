/**
 * The one way leakscope validates input from outside — server options, CLI flags,
 * scenario files, arrival schedules, gate budgets: a valibot schema is the single source of
 * both the TypeScript type (`v.InferOutput`) and the rules; `validate` parses once, at the
 * boundary, and either returns the deep-frozen value or throws one LsError whose message
 * names the field path, what was expected and what was got, e.g.
 * `phases[2].rateTo: expected a number from 0.1 to 1000000, got "fast"`.
 *
 * Why valibot: typed schemas with paths on every issue, like zod 4, but its import costs a
 * fraction of zod's (measured on Node 20: ~30 ms vs ~200 ms cold, which every `serve`
 * start-up and every CLI command pays) and it installs 1.8 MB instead of 6 MB.
 */
import * as v from 'valibot';
import { type ErrorCode, LsError } from './errors.js';

export { v };

/** Deeply read-only, the type of what `validate` returns (the value is frozen too). */
export type Frozen<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends ReadonlySet<infer U>
    ? ReadonlySet<U>
    : T extends readonly (infer U)[]
      ? readonly Frozen<U>[]
      : T extends object
        ? { readonly [K in keyof T]: Frozen<T[K]> }
        : T;

/** How a bad value is shown after "got": strings quoted, long values cut. */
export function shown(x: unknown): string {
  if (x === undefined) return 'nothing';
  if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return String(x);
  let s: string;
  try {
    s = JSON.stringify(x) ?? String(x);
  } catch {
    s = String(x);
  }
  return s.length > 80 ? `${s.slice(0, 77)}…` : s;
}

type Issue = v.BaseIssue<unknown>;

/** A message for an issue: "expected WHAT, got VALUE". */
export const expecting =
  (what: string) =>
  (issue: Issue): string =>
    `expected ${what}, got ${shown(issue.input)}`;

/** The message of an issue from a schema given none of ours (a bare `v.string()`): the same shape. */
const fallbackMessage = (issue: Issue): string =>
  issue.expected ? `expected ${issue.expected}, got ${shown(issue.input)}` : `invalid value ${shown(issue.input)}`;

export interface NumberRule {
  readonly min: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** The minimum itself is refused (a rate must be > 0). */
  readonly aboveMin?: boolean;
  /** The maximum itself is refused (a confidence must be < 1). */
  readonly belowMax?: boolean;
  /** Says what is expected instead of the range ("a process id"). */
  readonly what?: string;
}

/** "an integer from 1 to 65535", "a number ≥ 0", "a number > 0". */
export function describeNumber(r: NumberRule): string {
  if (r.what) return r.what;
  const kind = r.integer ? 'an integer' : 'a number';
  if (r.max !== undefined && !r.aboveMin && !r.belowMax) return `${kind} from ${r.min} to ${r.max}`;
  const low = `${kind} ${r.aboveMin ? '>' : '≥'} ${r.min}`;
  return r.max === undefined ? low : `${low} and ${r.belowMax ? '<' : '≤'} ${r.max}`;
}

/** Whether `n` satisfies a rule (what `number` and `numeric` check). */
export const inRange = (n: number, r: NumberRule): boolean =>
  Number.isFinite(n) &&
  (!r.integer || Number.isInteger(n)) &&
  (r.aboveMin ? n > r.min : n >= r.min) &&
  (r.max === undefined || (r.belowMax ? n < r.max : n <= r.max));

/** A finite number within a rule (JSON/YAML input: numbers only). */
export const number = (r: NumberRule) => {
  const message = expecting(describeNumber(r));
  return v.pipe(
    v.number(message),
    v.check((n) => inRange(n, r), message),
  );
};

const toNumber = (x: string | number): number => (typeof x === 'number' ? x : x.trim() === '' ? Number.NaN : Number(x));

/** A number within a rule, given as a number or as the text of one (CLI flags). */
export const numeric = (r: NumberRule) => {
  const message = expecting(describeNumber(r));
  return v.pipe(
    v.union([v.number(), v.string()], message),
    v.check((x) => inRange(toNumber(x), r), message),
    v.transform(toNumber),
  );
};

/** One of a fixed list of strings; the message lists them. */
export const oneOf = <const T extends readonly [string, ...string[]]>(allowed: T, what?: string) => {
  const message = expecting(what ?? `one of ${allowed.join(', ')}`);
  // Any string goes in (so raw input types stay `string`), one of `allowed` comes out.
  return v.pipe(v.string(message), v.picklist(allowed, message));
};

/** true or false. */
export const flag = () => v.boolean(expecting('true or false'));

/** A string matching a pattern; `what` says what it is for people ("a name of letters, digits, - and _"). */
export const matching = (re: RegExp, what: string) => {
  const message = expecting(what);
  return v.pipe(v.string(message), v.regex(re, message));
};

/** A string (any text). */
export const text = (what = 'a string') => v.string(expecting(what));

/**
 * An object with these fields and no others: an unknown field is refused with the list
 * of allowed ones, a missing required field is named.
 */
export function fields<const E extends v.ObjectEntries>(entries: E, what = 'an object') {
  const allowed = Object.keys(entries).join(', ');
  return v.pipe(
    // valibot takes an array for an object; a JSON list where fields belong is refused.
    v.custom<unknown>((x) => !Array.isArray(x), expecting(what)),
    v.strictObject(entries, (issue) => {
      const last = issue.path?.at(-1);
      if (last?.origin === 'key' && issue.expected === 'never') return `unknown field (allowed: ${allowed})`;
      if (last?.origin === 'key') return 'is required';
      return expecting(what)(issue);
    }),
  );
}

/** `phases[2].rateTo`: object keys joined by dots, array indexes in brackets. */
export function pathOf(issue: Issue): (string | number)[] {
  return (issue.path ?? []).map((p) => p.key as string | number);
}

export const dottedPath = (path: readonly (string | number)[]): string =>
  path.reduce<string>((s, k) => (typeof k === 'number' ? `${s}[${k}]` : s ? `${s}.${k}` : k), '');

export interface ValidateOptions {
  /** The LS_ERR_* code of the error thrown. */
  readonly code: ErrorCode;
  /** Names the input in front of every message, e.g. the file ("budget.json: "). */
  readonly source?: string;
  /** Where the input sits, prefixed to every path (e.g. "phases[1]" for a schedule of phase 1). */
  readonly at?: string;
  /** Renders a field path, [] included (default `dottedPath`; CLI options render `--flag`). */
  readonly name?: (path: readonly (string | number)[]) => string;
}

/**
 * For CLI flags: LS_ERR_INVALID_OPTION naming `--flag`, either the one flag given or the
 * flag of the field at fault (`flagOf` renames a field, e.g. model_delay_ms → model-delay-ms).
 */
export const asFlags = (flag?: string, flagOf: (field: string) => string = (f) => f): ValidateOptions => ({
  code: 'LS_ERR_INVALID_OPTION',
  name: (path) => `--${flag ?? flagOf(String(path[0]))}`,
});

/** Freezes an object and everything it holds. */
export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const x of Object.values(o)) deepFreeze(x);
  }
  return o;
}

/** At most this many issues are listed in one message. */
const MAX_LISTED = 3;

/**
 * Parses `input` with `schema`, or throws an LsError naming each bad field; the result is
 * deep-frozen (validated once at the boundary, then never changed).
 * @example validate(fields({ rate: number({ min: 0, aboveMin: true }) }), { rate: 0 }, { code: 'LS_ERR_BAD_SCENARIO' })
 * // throws "rate: expected a number > 0, got 0"
 */
export function validate<S extends v.GenericSchema>(
  schema: S,
  input: unknown,
  opts: ValidateOptions,
): Frozen<v.InferOutput<S>> {
  const r = v.safeParse(schema, input, { message: fallbackMessage });
  if (r.success) return deepFreeze(r.output) as Frozen<v.InferOutput<S>>;
  const name = opts.name ?? dottedPath;
  const lines = [
    ...new Set(
      r.issues.map((issue) => {
        const path = pathOf(issue);
        const where = opts.at ? dottedPath([opts.at, ...path]) : name(path);
        return where ? `${where}: ${issue.message}` : issue.message;
      }),
    ),
  ];
  const more = lines.length > MAX_LISTED ? ` (and ${lines.length - MAX_LISTED} more)` : '';
  const message = `${opts.source ? `${opts.source}: ` : ''}${lines.slice(0, MAX_LISTED).join('; ')}${more}`;
  throw new LsError(opts.code, message, { details: { issues: lines } });
}
