/**
 * The reference server: a model repository with hot reload, Predict through the
 * executor-cache session layer, served over TF Serving's gRPC and REST APIs.
 * `startServer` is what `leakscope serve` runs; tests call it directly with port 0.
 */
import type { Server as HttpServer } from 'node:http';

import { pino, type Logger } from 'pino';
import { BUILTIN_MODEL_NAME, ensureBuiltinModel } from '../wire/models/write-models.js';
import type { ServiceContext } from './context.js';
import { startDiagnostics, type DiagnosticsServer } from './diagnostics.js';
import { FIXES } from '../common/fixes.js';
import { bindGrpc, createGrpcServer } from './grpc/server.js';
import { HandlerThreadRunner } from './handler-threads.js';
import { threadAdmission } from './thread-admission.js';
import type { InferenceRunner } from './inference.js';
import { ServerMetrics } from './metrics.js';
import { DEFAULT_POLICY, type ModelSource } from './model-config.js';
import { allowedModelRoots, checkModelPaths } from './model-roots.js';
import { validateServerOptions, type RawServerOptions, type ServerOptions } from './options.js';
import { Predictor } from './predict.js';
import { ModelRepository, type ServableLoader } from './repository.js';
import { RequestBudget } from './request-budget.js';
import { createRestServer, listenRest } from './rest/server.js';
import { inputOrderStrategy, sessionStrategies } from './session.js';

export interface ServerHandle {
  readonly options: ServerOptions;
  readonly host: string;
  readonly grpcPort: number;
  readonly restPort: number;
  /** The diagnostics listener's port on 127.0.0.1; undefined without --diagnostics. */
  readonly diagnosticsPort: number | undefined;
  /** The handler threads; undefined when `deps.runner` replaced them. */
  readonly threads: HandlerThreadRunner | undefined;
  readonly repository: ModelRepository;
  readonly predictor: Predictor;
  readonly metrics: ServerMetrics;
  readonly log: Logger;
  /** Stops accepting, finishes in-flight requests, unloads models. Idempotent. */
  close(): Promise<void>;
}

export interface StartDeps {
  readonly logger?: Logger;
  readonly loader?: ServableLoader;
  /** Replaces the inference strategy (tests, benchmark baselines): no handler threads then. */
  readonly runner?: InferenceRunner;
}

/**
 * Starts the reference server.
 * @example const s = await startServer({ port: 0, rest_api_port: 0, mode: 'leaky' }); await s.close();
 */
export async function startServer(
  raw: RawServerOptions | ServerOptions = {},
  deps: StartDeps = {},
): Promise<ServerHandle> {
  const options =
    'fixes' in raw && typeof raw.fixes === 'object'
      ? (raw as ServerOptions)
      : validateServerOptions(raw as RawServerOptions);
  const log = deps.logger ?? pino({ level: options.logLevel, base: { svc: 'leakscope-server' } });
  let models: readonly ModelSource[] | undefined = options.models;
  if (!models) {
    const basePath = await ensureBuiltinModel();
    models = [{ name: BUILTIN_MODEL_NAME, basePath, policy: DEFAULT_POLICY, labels: {} }];
  }
  const roots = allowedModelRoots(options.allowedModelRoots, models);
  const repository = new ModelRepository({
    logger: log,
    loader: deps.loader,
    pollIntervalMs: options.pollWaitSeconds * 1000,
  });
  // Predict runs on handler threads in both modes; only their admission differs (thread-cap).
  const threads = deps.runner
    ? undefined
    : new HandlerThreadRunner({
        admission: threadAdmission(options.fixes, options.grpcMaxThreads),
        minIdleThreads: options.minIdleThreads,
        idleGraceMs: options.idleThreadGraceMs,
        maxBooting: options.maxBootingThreads,
        backgroundBoots: options.backgroundBoots,
        modelDelayMs: options.modelDelayMs,
      });
  const runner: InferenceRunner = deps.runner ?? threads!;
  if (threads) {
    repository.onLoad((s) => threads.prewarm(s));
    repository.onUnload((s) => threads.dropServable(s));
  }
  const predictor = new Predictor({
    repository,
    runner,
    session: sessionStrategies(options.fixes, options.executorCacheSize),
    inputOrder: inputOrderStrategy(options.fixes),
  });
  const metrics = new ServerMetrics({
    cache: {
      cacheStats: () =>
        [...predictor.modelSessions()].map(([s, ms]) => ({
          model: s.model,
          version: s.version,
          entries: ms.store.size,
          keyBytes: ms.store.keyBytes,
        })),
    },
    threads,
  });
  const ctx: ServiceContext = {
    repository,
    predictor,
    metrics,
    log,
    maxMessageBytes: options.maxMessageBytes,
    budget: new RequestBudget(options.requestBudget),
    reloadConfig: async (sources) => {
      checkModelPaths(sources, roots);
      await repository.setSources(sources);
    },
  };

  await repository.setSources(models);
  repository.start();
  // As gRPC's sync server, serve once the prestarted pollers are up.
  await threads?.whenUp();
  const grpcServer = createGrpcServer(ctx);
  const rest: HttpServer = createRestServer(ctx);
  let grpcPort: number;
  let restPort: number;
  let diagnostics: DiagnosticsServer | undefined;
  try {
    grpcPort = await bindGrpc(grpcServer, options.host, options.grpcPort);
    restPort = await listenRest(rest, options.host, options.restPort);
    if (options.diagnostics) {
      diagnostics = await startDiagnostics({
        port: options.diagnosticsPort,
        dir: options.diagnosticsDir,
        captureLimits: options.captureLimits,
        predictor,
        metrics,
        threads,
        log,
      });
    }
  } catch (e) {
    grpcServer.forceShutdown();
    rest.close();
    await repository.close();
    await runner.close();
    throw e;
  }
  const fixesOn = [...options.fixes.fixes];
  log.info(
    {
      mode: options.fixes.mode,
      fixes: fixesOn,
      handlerThreads: threads
        ? {
            cap: threads.cap ?? 'none (uncapped, like upstream INT_MAX)',
            minIdle: options.minIdleThreads,
            idleGraceMs: options.idleThreadGraceMs,
            maxBooting: options.maxBootingThreads,
            backgroundBoots: options.backgroundBoots,
            modelDelayMs: options.modelDelayMs,
          }
        : 'inline runner',
      diagnosticsPort: diagnostics?.port,
      fixDescriptions: fixesOn.map((f) => FIXES[f]),
      grpc: `${options.host}:${grpcPort}`,
      rest: `${options.host}:${restPort}`,
      models: models.map((m) => m.name),
      allowedModelRoots: roots,
    },
    `leakscope reference server up (mode ${options.fixes.mode}; fixes: ${fixesOn.length ? fixesOn.join(', ') : 'none'}; handler threads: ${threads ? (threads.cap === null ? 'uncapped' : `cap ${threads.cap}`) : 'inline'})`,
  );

  let closing: Promise<void> | undefined;
  const close = () =>
    (closing ??= (async () => {
      log.info('shutting down: no new requests; finishing in-flight ones');
      const grpcDone = new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, 10_000);
        force.unref();
        grpcServer.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      // Keep-alive connections that go idle once their in-flight request is answered would
      // hold close() open until keepAliveTimeout; close them as they become idle.
      const reaper = setInterval(() => rest.closeIdleConnections(), 50);
      const restDone = new Promise<void>((resolve) => rest.close(() => resolve())).finally(() => clearInterval(reaper));
      rest.closeIdleConnections();
      await Promise.all([grpcDone, restDone, diagnostics?.close()]);
      await repository.close();
      await runner.close();
      log.info('shut down');
    })());

  return {
    options,
    host: options.host,
    grpcPort,
    restPort,
    diagnosticsPort: diagnostics?.port,
    threads,
    repository,
    predictor,
    metrics,
    log,
    close,
  };
}
