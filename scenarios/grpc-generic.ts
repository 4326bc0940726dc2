/**
 * Any unary gRPC method as a load target: its .proto is loaded with protobufjs, a JSON
 * request template (string leaves may hold `{{...}}` expressions, http-templates.ts) is
 * checked against the request type once, and request i is template → fromObject → encode.
 * The gRPC driver then sends the bytes to the method's path and counts answers by status.
 */
import protobuf from 'protobufjs';
import { LsError } from '../common/errors.js';
import { compileTemplate, templateContext, type TemplateContext } from './http-templates.js';

export interface GrpcMethodSpec {
  readonly protoFile: string;
  /** Fully-qualified method: "pkg.Service/Method" or "pkg.Service.Method". */
  readonly method: string;
  /** JSON request object; strings may be templates, coerced to the field's type. */
  readonly request: unknown;
  /** Extra import paths for the .proto's imports. */
  readonly includeDirs?: readonly string[];
  readonly seed?: number;
  /** Requests the run's earlier phases planned: `{{n}}` = this + `{{i}}`. */
  readonly indexBase?: number;
}

export interface GrpcMethodTarget {
  /** "/pkg.Service/Method", for the driver's `path`. */
  readonly path: string;
  readonly requestType: protobuf.Type;
  readonly responseType: protobuf.Type;
  /** Encoded request i. */
  readonly request: (i: number) => Buffer;
}

const bad = (where: string, msg: string) => new LsError('LS_ERR_BAD_SCENARIO', `${where}: ${msg}`);

type Build = (c: TemplateContext) => unknown;

const NUMERIC = new Set(['double', 'float', 'int32', 'uint32', 'sint32', 'fixed32', 'sfixed32']);
const LONG = new Set(['int64', 'uint64', 'sint64', 'fixed64', 'sfixed64']);

function leaf(field: protobuf.Field, v: unknown, where: string): Build {
  if (field.resolvedType instanceof protobuf.Type) {
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw bad(where, `must be an object (message ${field.resolvedType.fullName.slice(1)})`);
    return compileMessage(field.resolvedType, v as Record<string, unknown>, where);
  }
  if (typeof v !== 'string') {
    if (v === null || typeof v === 'object')
      throw bad(where, `must be a ${field.type} value, got ${JSON.stringify(v)}`);
    return () => v;
  }
  const t = compileTemplate(v, where);
  if (field.resolvedType instanceof protobuf.Enum) {
    const en = field.resolvedType;
    if (!v.includes('{{') && !(v in en.values))
      throw bad(where, `'${v}' is not a value of enum ${en.fullName.slice(1)} (${Object.keys(en.values).join(', ')})`);
    return t;
  }
  if (NUMERIC.has(field.type)) {
    return (c) => {
      const s = t(c);
      const n = Number(s);
      if (!Number.isFinite(n)) throw bad(where, `gave '${s}', not a number for ${field.type} field`);
      return n;
    };
  }
  if (LONG.has(field.type)) return t; // fromObject parses 64-bit decimal strings
  if (field.type === 'bool') return (c) => t(c) === 'true';
  return t; // string, and bytes as base64 (fromObject decodes it)
}

function compileMessage(type: protobuf.Type, obj: Record<string, unknown>, where: string): Build {
  const parts = Object.entries(obj).map(([key, v]) => {
    const field = type.fields[key] ?? type.fields[key.replace(/_([a-z])/g, (_, ch: string) => ch.toUpperCase())];
    if (!field)
      throw bad(
        `${where}.${key}`,
        `no such field in ${type.fullName.slice(1)} (fields: ${Object.keys(type.fields).join(', ')})`,
      );
    field.resolve();
    const at = `${where}.${key}`;
    let build: Build;
    if (field.map) {
      if (!v || typeof v !== 'object' || Array.isArray(v)) throw bad(at, 'must be an object (map field)');
      const entries = Object.entries(v).map(([mk, mv]) => [mk, leaf(field, mv, `${at}.${mk}`)] as const);
      build = (c) => Object.fromEntries(entries.map(([mk, f]) => [mk, f(c)]));
    } else if (field.repeated) {
      if (!Array.isArray(v)) throw bad(at, 'must be an array (repeated field)');
      const items = v.map((x, k) => leaf(field, x, `${at}[${k}]`));
      build = (c) => items.map((f) => f(c));
    } else build = leaf(field, v, at);
    return [field.name, build] as const;
  });
  return (c) => Object.fromEntries(parts.map(([k, f]) => [k, f(c)]));
}

/**
 * Loads a unary method and compiles its request template. `where` names the scenario
 * field in errors. Equals the `grpc-generic` transport of a `leakscope run` phase.
 *
 * @example
 * const m = await loadGrpcMethod({ protoFile: 'echo.proto', method: 'demo.Echo/Say', request: { text: 'hi {{i}}', n: '{{randInt 1 9}}' } });
 * startGrpcPhase({ name: 'echo', address, schedule, path: m.path, request: m.request, transport: 'grpc-generic' });
 */
export async function loadGrpcMethod(spec: GrpcMethodSpec, where = 'grpc'): Promise<GrpcMethodTarget> {
  if (!spec || typeof spec.protoFile !== 'string')
    throw bad(`${where}.protoFile`, 'is required (path of a .proto file)');
  if (typeof spec.method !== 'string') throw bad(`${where}.method`, 'is required ("package.Service/Method")');
  const root = new protobuf.Root();
  const dirs = spec.includeDirs ?? [];
  if (dirs.length) {
    const orig = root.resolvePath.bind(root);
    root.resolvePath = (origin, target) => {
      for (const d of dirs) {
        const p = `${d}/${target}`;
        if (protobuf.util.fs?.existsSync?.(p)) return p;
      }
      return orig(origin, target);
    };
  }
  try {
    await root.load(spec.protoFile, { keepCase: true });
    root.resolveAll();
  } catch (e) {
    throw bad(`${where}.protoFile`, `cannot load ${spec.protoFile}: ${(e as Error).message}`);
  }
  const m = /^\.?([\w.]+)[./](\w+)$/.exec(spec.method.trim());
  if (!m) throw bad(`${where}.method`, `must look like package.Service/Method, got '${spec.method}'`);
  const service = root.lookup(m[1]!);
  if (!(service instanceof protobuf.Service)) throw bad(`${where}.method`, `no service '${m[1]}' in ${spec.protoFile}`);
  const method = service.methods[m[2]!];
  if (!method)
    throw bad(
      `${where}.method`,
      `service ${m[1]} has no method '${m[2]}' (methods: ${Object.keys(service.methods).join(', ')})`,
    );
  if (method.requestStream || method.responseStream)
    throw bad(`${where}.method`, `${spec.method} is streaming; only unary methods are driven`);
  method.resolve();
  const requestType = method.resolvedRequestType!;
  const responseType = method.resolvedResponseType!;
  if (!spec.request || typeof spec.request !== 'object' || Array.isArray(spec.request))
    throw bad(`${where}.request`, `must be a JSON object (${requestType.fullName.slice(1)})`);
  const build = compileMessage(requestType, spec.request as Record<string, unknown>, `${where}.request`);
  const seed = spec.seed ?? 1;
  // protobufjs's writer yields a Buffer on Node already: no copy.
  const request = (i: number) =>
    requestType
      .encode(requestType.fromObject(build(templateContext(i, seed, spec.indexBase ?? 0)) as Record<string, unknown>))
      .finish() as Buffer;
  // Fail now, not at the first send, on values fromObject cannot take.
  try {
    request(0);
  } catch (e) {
    throw e instanceof LsError ? e : bad(`${where}.request`, (e as Error).message);
  }
  return { path: `/${service.fullName.slice(1)}/${method.name}`, requestType, responseType, request };
}
