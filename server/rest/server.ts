/**
 * TF Serving's REST API on node:http: model status, metadata and Predict (row form
 * `instances` → `predictions`, columnar form `inputs` → `outputs`), errors as
 * `{"error": "..."}`, and Prometheus metrics at /monitoring/prometheus/metrics.
 * JSON key order is the order inputs reach the session (JSON.parse keeps it).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GrpcCode, LsError, toLsError } from '../../common/errors.js';
import { versionSpec, type ServiceContext } from '../context.js';
import { metadataJson, statusJson } from '../model-info.js';
import type { PredictResult } from '../predict.js';
import type { Signature } from '../signature.js';
import {
  declarationOf,
  jsonRowsToTensor,
  jsonToTensor,
  tensorRowToJson,
  tensorToJson,
  type HostTensor,
} from '../../wire/tensors.js';
import type { BudgetLease } from '../request-budget.js';
import type { RequestTally } from '../metrics.js';
import { isRecord } from '../../common/objects.js';

const MODEL_PATH = /^\/v1\/models\/([^/:]+)(?:\/versions\/([^/:]+)|\/labels\/([^/:]+))?(?:\/(metadata)|:([a-zA-Z]+))?$/;
export const METRICS_PATH = '/monitoring/prometheus/metrics';

const bad = (m: string) => new LsError('LS_ERR_INVALID_REQUEST', m);

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads the body up to `limit` bytes; past it, drains the rest and throws LS_ERR_TOO_LARGE. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const aborted = () =>
      new LsError('LS_ERR_CLIENT_ABORTED', 'the client closed the connection before sending the whole body');
    const declared = Number(req.headers['content-length'] ?? -1);
    const tooLarge = (n: number) =>
      new LsError(
        'LS_ERR_TOO_LARGE',
        `request body of ${n} bytes exceeds the limit of ${limit} bytes (--max_message_bytes)`,
      );
    if (declared > limit) {
      req.resume();
      req.on('end', () => reject(tooLarge(declared)));
      req.on('error', (e) => reject(req.complete ? e : aborted()));
      return;
    }
    // A client that disconnects mid-body is not a server failure: LS_ERR_CLIENT_ABORTED (499).
    req.on('close', () => {
      if (!req.complete) reject(aborted());
    });
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) over = true;
      if (!over) chunks.push(c);
    });
    req.on('end', () => (over ? reject(tooLarge(size)) : resolve(Buffer.concat(chunks))));
    req.on('error', (e) => reject(req.complete ? e : aborted()));
  });
}

function dtypeOf(sig: Signature, name: string, model: string) {
  const i = sig.inputIndex.get(name);
  if (i === undefined)
    throw bad(
      `input '${name}' is not an input of model '${model}' (expected: ${sig.inputs.map((s) => s.name).join(', ')})`,
    );
  return sig.inputs[i]!.dtype;
}

/** Builds the input tensors of a REST Predict body, in JSON key order. */
function restInputs(
  body: Record<string, unknown>,
  model: string,
): { form: 'row' | 'columnar'; build: (sig: Signature) => Array<readonly [string, HostTensor]> } {
  const hasInstances = 'instances' in body;
  const hasInputs = 'inputs' in body;
  if (hasInstances && hasInputs)
    throw bad("request must contain either 'instances' (row form) or 'inputs' (columnar form), not both");
  if (!hasInstances && !hasInputs) throw bad("request must contain 'instances' (row form) or 'inputs' (columnar form)");
  if (hasInstances) {
    const inst = body.instances;
    if (!Array.isArray(inst)) throw bad("'instances' must be a list, one element per example");
    if (inst.length === 0) throw bad("'instances' is empty");
    return {
      form: 'row',
      build: (sig) => {
        if (!isRecord(inst[0])) {
          if (sig.inputs.length !== 1) {
            throw bad(
              `'instances' elements must be objects naming each input: model '${model}' has ${sig.inputs.length} inputs (${sig.inputs.map((s) => s.name).join(', ')})`,
            );
          }
          const only = sig.inputs[0]!;
          return [[only.name, jsonRowsToTensor(inst, only.dtype, only.name)]];
        }
        const names = Object.keys(inst[0]);
        inst.forEach((row, i) => {
          if (!isRecord(row)) throw bad(`instance ${i} is not an object like instance 0`);
          const keys = Object.keys(row);
          if (keys.length !== names.length || !keys.every((k) => k in (inst[0] as object))) {
            throw bad(
              `instance ${i} names inputs {${keys.join(', ')}} but instance 0 names {${names.join(', ')}}; every instance must name the same inputs`,
            );
          }
        });
        return names.map(
          (n) =>
            [
              n,
              jsonRowsToTensor(
                inst.map((r) => (r as Record<string, unknown>)[n]),
                dtypeOf(sig, n, model),
                n,
              ),
            ] as const,
        );
      },
    };
  }
  const inputs = body.inputs;
  return {
    form: 'columnar',
    build: (sig) => {
      if (isRecord(inputs))
        return Object.keys(inputs).map((n) => [n, jsonToTensor(inputs[n], dtypeOf(sig, n, model), n)] as const);
      if (sig.inputs.length !== 1) {
        throw bad(
          `'inputs' must be an object naming each input: model '${model}' has ${sig.inputs.length} inputs (${sig.inputs.map((s) => s.name).join(', ')})`,
        );
      }
      const only = sig.inputs[0]!;
      return [[only.name, jsonToTensor(inputs, only.dtype, only.name)]];
    },
  };
}

function predictAnswer(form: 'row' | 'columnar', res: PredictResult): unknown {
  const outs = res.outputs;
  if (form === 'columnar') {
    if (outs.length === 1) return { outputs: tensorToJson(outs[0]![1]) };
    return { outputs: Object.fromEntries(outs.map(([n, t]) => [n, tensorToJson(t)])) };
  }
  const batch = outs[0]?.[1].dims[0] ?? 0;
  const predictions = new Array<unknown>(batch);
  for (let r = 0; r < batch; r++) {
    predictions[r] =
      outs.length === 1
        ? tensorRowToJson(outs[0]![1], r)
        : Object.fromEntries(outs.map(([n, t]) => [n, tensorRowToJson(t, r)]));
  }
  return { predictions };
}

async function route(
  ctx: ServiceContext,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  tally: RequestTally,
): Promise<void> {
  const m = MODEL_PATH.exec(path);
  if (!m) throw new LsError('LS_ERR_ROUTE_NOT_FOUND', `Malformed request: ${req.method} ${path}`);
  const [, rawName, rawVersion, rawLabel, metadata, verb] = m;
  const dec = (s: string | undefined) => {
    if (s === undefined) return undefined;
    try {
      return decodeURIComponent(s);
    } catch {
      throw bad(`Malformed request: the URL path segment '${s}' is not valid %-encoding`);
    }
  };
  const spec = versionSpec(dec(rawName), dec(rawVersion), dec(rawLabel), 'URL');
  if (verb !== undefined) {
    if (verb === 'classify' || verb === 'regress')
      throw new LsError(
        'LS_ERR_UNIMPLEMENTED',
        `:${verb} is not implemented by the leakscope reference server; use :predict`,
      );
    if (verb !== 'predict')
      throw new LsError('LS_ERR_ROUTE_NOT_FOUND', `Malformed request: unknown verb ':${verb}' (expected :predict)`);
    if (req.method !== 'POST') throw new LsError('LS_ERR_METHOD_NOT_ALLOWED', `:predict takes POST, not ${req.method}`);
    tally.model = spec.name;
    const raw = await readBody(req, ctx.maxMessageBytes);
    let body: unknown;
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch (e) {
      throw new LsError('LS_ERR_MALFORMED', `malformed JSON body: ${(e as Error).message}`);
    }
    if (!isRecord(body)) throw bad('request body must be a JSON object with "instances" or "inputs"');
    if (body.signature_name !== undefined && typeof body.signature_name !== 'string')
      throw bad("'signature_name' must be a string");
    const { form, build } = restInputs(body, spec.name);
    // JSON tensors are bounded by the body limit while they are built; the budget is
    // checked on them before they go any further (handler threads, onnxruntime).
    let lease: BudgetLease | undefined;
    let result: PredictResult;
    try {
      result = await ctx.predictor.predict({
        spec: { ...spec, signatureName: body.signature_name as string | undefined },
        inputs: (sig) => {
          const inputs = build(sig);
          lease = ctx.budget.admit(inputs.map(([, t]) => declarationOf(t)));
          return inputs;
        },
        outputFilter: [],
      });
    } finally {
      lease?.release();
    }
    if (req.socket.destroyed)
      throw new LsError('LS_ERR_CLIENT_ABORTED', 'the client closed the connection before the answer');
    send(res, 200, predictAnswer(form, result));
    return;
  }
  if (req.method !== 'GET') throw new LsError('LS_ERR_METHOD_NOT_ALLOWED', `${path} takes GET, not ${req.method}`);
  if (metadata) {
    send(res, 200, metadataJson(ctx.repository.peek(spec)));
    return;
  }
  send(res, 200, statusJson(ctx.repository.status(spec)));
}

/** Creates (does not bind) the REST server. */
export function createRestServer(ctx: ServiceContext): Server {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (path === METRICS_PATH && req.method === 'GET') {
      ctx.metrics.text().then(
        (text) => {
          res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType });
          res.end(text);
        },
        (e) => send(res, 500, { error: `metrics failed: ${(e as Error).message}` }),
      );
      return;
    }
    const methodName = path.endsWith(':predict')
      ? 'Predict'
      : path.endsWith('/metadata')
        ? 'GetModelMetadata'
        : 'GetModelStatus';
    const tally = ctx.metrics.begin(methodName, 'rest');
    route(ctx, req, res, path, tally).then(
      () => tally.end('200', GrpcCode.OK),
      (e: unknown) => {
        const err = toLsError(e);
        if (err.code === 'LS_ERR_INTERNAL') ctx.log.error({ err: e, path }, 'request failed unexpectedly');
        ctx.metrics.countRefusal('rest', err.code);
        tally.end(String(err.httpStatus), err.grpcCode);
        if (err.code === 'LS_ERR_CLIENT_ABORTED') res.destroy();
        else if (!res.headersSent) send(res, err.httpStatus, { error: err.message });
        else res.destroy();
      },
    );
  });
  server.keepAliveTimeout = 30_000;
  return server;
}

/** Listens; resolves the bound port (port 0 picks a free one). */
export function listenRest(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) =>
      reject(
        new LsError('LS_ERR_INVALID_OPTION', `--rest_api_port ${port}: cannot listen on ${host}:${port}: ${e.message}`),
      );
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
