/**
 * Request templates for targets beyond TF Serving: a tiny template engine (`{{i}}` the
 * request's index in its phase, `{{n}}` its index in the whole run, `{{randInt 1 100}}`, `{{randFloat 0 1}}`, `{{choice a b c}}`, `{{uuid}}`, `{{now}}`)
 * compiled once per field, and the generic HTTP target built on it. Values depend only
 * on (seed, request index), so a run replays the same requests.
 */
import { LsError } from '../common/errors.js';
import { mixSeed, mulberry32 } from '../common/prng.js';

/** What a template expression sees for one request. */
export interface TemplateContext {
  /** The request's index within its phase (restarts at 0 each phase). */
  readonly i: number;
  /** The request's index within the run: requests the earlier phases planned + i (never repeats). */
  readonly n: number;
  /** Seeded per request. */
  readonly rand: () => number;
}

export type Template = (ctx: TemplateContext) => string;

type Helper = (args: readonly string[], ctx: TemplateContext) => string;

const hex = (rand: () => number, n: number) =>
  Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');

const HELPERS: Readonly<
  Record<string, { readonly arity: (n: number) => boolean; readonly usage: string; readonly fn: Helper }>
> = {
  i: { arity: (n) => n === 0, usage: '{{i}}', fn: (_, c) => String(c.i) },
  n: { arity: (n) => n === 0, usage: '{{n}}', fn: (_, c) => String(c.n) },
  now: { arity: (n) => n === 0, usage: '{{now}}', fn: () => String(Date.now()) },
  uuid: {
    arity: (n) => n === 0,
    usage: '{{uuid}}',
    fn: (_, c) =>
      `${hex(c.rand, 8)}-${hex(c.rand, 4)}-4${hex(c.rand, 3)}-${'89ab'[Math.floor(c.rand() * 4)]}${hex(c.rand, 3)}-${hex(c.rand, 12)}`,
  },
  randInt: {
    arity: (n) => n === 2,
    usage: '{{randInt MIN MAX}}',
    fn: ([a, b], c) => String(Number(a) + Math.floor(c.rand() * (Number(b) - Number(a) + 1))),
  },
  randFloat: {
    arity: (n) => n === 2,
    usage: '{{randFloat MIN MAX}}',
    fn: ([a, b], c) => String(Number(a) + c.rand() * (Number(b) - Number(a))),
  },
  choice: {
    arity: (n) => n >= 1,
    usage: '{{choice A B ...}}',
    fn: (args, c) => args[Math.floor(c.rand() * args.length)]!,
  },
};

const bad = (where: string, msg: string) => new LsError('LS_ERR_BAD_SCENARIO', `${where}: ${msg}`);

/**
 * Compiles a template string; `where` names the scenario field in errors.
 * @example compileTemplate('{"id": {{i}}, "k": "{{choice a b}}"}', 'phases[0].body')({ i: 3, rand: Math.random })
 */
export function compileTemplate(src: string, where: string): Template {
  if (typeof src !== 'string') throw bad(where, `must be a string, got ${typeof src}`);
  const parts: Array<string | ((c: TemplateContext) => string)> = [];
  let pos = 0;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    if (open < 0) {
      parts.push(src.slice(pos));
      break;
    }
    if (open > pos) parts.push(src.slice(pos, open));
    const close = src.indexOf('}}', open + 2);
    if (close < 0) throw bad(where, `unclosed '{{' at offset ${open}`);
    const words = src
      .slice(open + 2, close)
      .trim()
      .split(/\s+/)
      .filter(Boolean);
    const [name, ...args] = words;
    const h = name ? HELPERS[name] : undefined;
    if (!h)
      throw bad(
        where,
        `unknown template variable '{{${src.slice(open + 2, close).trim()}}}' at offset ${open}; known: ${Object.values(
          HELPERS,
        )
          .map((x) => x.usage)
          .join(', ')}`,
      );
    if (!h.arity(args.length)) throw bad(where, `'{{${words.join(' ')}}}' takes the form ${h.usage}`);
    if (
      (name === 'randInt' || name === 'randFloat') &&
      (args.some((a) => !Number.isFinite(Number(a))) || Number(args[0]) > Number(args[1]))
    ) {
      throw bad(where, `'{{${words.join(' ')}}}' needs numbers MIN <= MAX`);
    }
    parts.push((c) => h.fn(args, c));
    pos = close + 2;
  }
  if (parts.every((p) => typeof p === 'string')) {
    const s = parts.join('');
    return () => s;
  }
  return (c) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : p(c);
    return out;
  };
}

/**
 * The context of request i of a phase whose first request is the run's request `base`:
 * its own seeded generator, independent of call order.
 */
export const templateContext = (i: number, seed = 1, base = 0): TemplateContext => ({
  i,
  n: base + i,
  rand: mulberry32(mixSeed(seed, 0x7e3b, i)),
});

export interface HttpTargetSpec {
  readonly method?: string;
  /** Path and query, may hold templates; must start with '/'. */
  readonly path: string;
  readonly headers?: Readonly<Record<string, string>>;
  /** Body template (a string), or a JSON value whose strings are templates. */
  readonly body?: unknown;
  readonly seed?: number;
  /** Requests the run's earlier phases planned: `{{n}}` = this + `{{i}}`. */
  readonly indexBase?: number;
}

export interface HttpRequestSpec {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** Compiles a JSON value whose string leaves are templates into a JSON-text template. */
function compileJson(v: unknown, where: string): (c: TemplateContext) => string {
  if (typeof v === 'string') {
    const t = compileTemplate(v, where);
    return (c) => JSON.stringify(t(c));
  }
  if (Array.isArray(v)) {
    const items = v.map((x, k) => compileJson(x, `${where}[${k}]`));
    return (c) => `[${items.map((f) => f(c)).join(',')}]`;
  }
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).map(([k, x]) => [JSON.stringify(k), compileJson(x, `${where}.${k}`)] as const);
    return (c) => `{${entries.map(([k, f]) => `${k}:${f(c)}`).join(',')}}`;
  }
  const s = JSON.stringify(v);
  if (s === undefined) throw bad(where, `is not JSON (${typeof v})`);
  return () => s;
}

/**
 * Validates a generic HTTP target and returns the factory of request i.
 * Equals the `http` transport of a `leakscope run` scenario phase.
 *
 * @example
 * const req = httpRequestFactory({ method: 'POST', path: '/score?u={{randInt 1 100}}', body: { id: '{{uuid}}' } }, 'phases[0].http');
 * req(0) // { method: 'POST', path: '/score?u=42', headers: { 'content-type': 'application/json' }, body: '{"id":"…"}' }
 */
export function httpRequestFactory(spec: HttpTargetSpec, where = 'http'): (i: number) => HttpRequestSpec {
  if (!spec || typeof spec !== 'object') throw bad(where, 'must be an object with method, path, headers, body');
  const method = (spec.method ?? (spec.body === undefined ? 'GET' : 'POST')).toUpperCase();
  if (!METHODS.has(method))
    throw bad(`${where}.method`, `must be one of ${[...METHODS].join(', ')}, got ${JSON.stringify(spec.method)}`);
  if (typeof spec.path !== 'string' || !spec.path.startsWith('/'))
    throw bad(`${where}.path`, `must be a string starting with '/', got ${JSON.stringify(spec.path)}`);
  const path = compileTemplate(spec.path, `${where}.path`);
  if (
    spec.headers !== undefined &&
    (typeof spec.headers !== 'object' || spec.headers === null || Array.isArray(spec.headers))
  ) {
    throw bad(`${where}.headers`, 'must be an object of header name to string value');
  }
  const headers = Object.entries(spec.headers ?? {}).map(([k, v]) => {
    if (typeof v !== 'string') throw bad(`${where}.headers.${k}`, `must be a string, got ${typeof v}`);
    return [k.toLowerCase(), compileTemplate(v, `${where}.headers.${k}`)] as const;
  });
  const jsonBody = spec.body !== undefined && typeof spec.body !== 'string';
  const body =
    spec.body === undefined
      ? undefined
      : jsonBody
        ? compileJson(spec.body, `${where}.body`)
        : compileTemplate(spec.body as string, `${where}.body`);
  const hasType = headers.some(([k]) => k === 'content-type');
  const seed = spec.seed ?? 1;
  const base = spec.indexBase ?? 0;
  return (i) => {
    const c = templateContext(i, seed, base);
    const h: Record<string, string> = {};
    if (jsonBody && !hasType) h['content-type'] = 'application/json';
    for (const [k, t] of headers) h[k] = t(c);
    return { method, path: path(c), headers: h, ...(body ? { body: body(c) } : {}) };
  };
}
