/**
 * What a run is pointed at: a reference server the runner spawns itself (leaky, patched
 * or a subset of fixes), an external server (a real TF Serving, sampled from /proc when
 * its pid is given), or any Node.js process started with --inspect (sampled and
 * snapshotted through the inspector protocol). Spawned servers never outlive the run.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DiagnosticsClient } from '../common/diagnostics-api.js';
import { GrpcCode, LsError } from '../common/errors.js';
import { awaitListening, parseServeListening, type ServeListeningEvent } from '../common/listening-event.js';
import { packageRoot } from '../common/package-root.js';
import { readProcStats } from '../common/proc.js';
import type { TargetInfo } from '../common/run-format.js';
import { BUILTIN_MODEL_NAME, writeModelVersions } from '../wire/models/write-models.js';
import { InspectorClient } from './inspector-client.js';
import { TfServingClient } from './tf-client.js';

export interface Target {
  readonly info: TargetInfo;
  /** host:port of a TF Serving gRPC API, when there is one. */
  readonly grpc?: string;
  /** http://host:port of the REST API or HTTP service, when there is one. */
  readonly http?: string;
  readonly pid?: number;
  /** leakscope's diagnostics interface on 127.0.0.1 (spawned targets). */
  readonly diagnostics?: DiagnosticsClient;
  readonly prometheus?: string;
  readonly inspector?: InspectorClient;
  /** Base path of the served model (spawned targets), for the hot-reload scenario. */
  readonly modelDir?: string;
  readonly modelName: string;
  /** The last of what a spawned target (or its wrapper) wrote on stderr. */
  readonly stderrTail?: () => string;
  /** Resolves when a spawned target exits (for any reason). */
  readonly exited?: Promise<{ code: number | null; signal: string | null }>;
  alive(): boolean;
  stop(): Promise<void>;
  /** Ends a spawned target at once (SIGKILL), for a stop that must not wait; `stop()` still cleans up. */
  kill?(): void;
}

export interface SpawnOptions {
  readonly mode?: string;
  readonly fixes?: string;
  readonly modelDelayMs?: number;
  readonly grpcMaxThreads?: number;
  readonly pollWaitSeconds?: number;
  /** Where heap snapshots and allocation profiles are written (the run's folder). */
  readonly diagnosticsDir: string;
  /** Start node with --expose-gc so GC-settled samples are possible. */
  readonly exposeGc?: boolean;
  /**
   * A command the server runs under (Clinic.js): it is given `node <args>` after its own
   * arguments and is stopped with SIGINT, which such tools forward before writing reports.
   */
  readonly wrapper?: readonly string[];
  /** The wrapper's working folder. */
  readonly wrapperCwd?: string;
  /** How long stop() waits for the wrapper to finish after the server's SIGINT (default 180 s). */
  readonly wrapperStopTimeoutMs?: number;
  readonly env?: NodeJS.ProcessEnv;
  readonly startTimeoutMs?: number;
}

/** Spawned servers still running, with their temporary model folders. */
const live = new Map<ChildProcess, string>();
let exitHookInstalled = false;
/**
 * A runner that exits without stopping its servers (process.exit, a crash) takes them down
 * and removes their model folders; one killed outright leaves that to the servers themselves
 * (--exit-with-parent, --remove-on-exit).
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const [c, modelRoot] of live) {
      c.kill('SIGKILL');
      rmSync(modelRoot, { recursive: true, force: true });
    }
  });
}

/**
 * Starts the reference server as a child process on free loopback ports, with a model
 * folder of its own (version 1 of the CTR model), and waits until it serves.
 * @example const t = await spawnReferenceServer({ mode: 'leaky', diagnosticsDir: dir }); await t.stop();
 */
export async function spawnReferenceServer(o: SpawnOptions): Promise<Target> {
  installExitHook();
  const modelRoot = await mkdtemp(join(tmpdir(), 'leakscope-run-model-'));
  const modelDir = join(modelRoot, BUILTIN_MODEL_NAME);
  try {
    await writeModelVersions(modelDir, { features: 10, versions: [1] });
  } catch (e) {
    await rm(modelRoot, { recursive: true, force: true });
    throw e;
  }
  const args = [
    ...(o.exposeGc ? ['--expose-gc'] : []),
    join(packageRoot(), 'bin', 'leakscope.js'),
    'serve',
    '--port',
    '0',
    '--rest_api_port',
    '0',
    '--model_name',
    BUILTIN_MODEL_NAME,
    '--model_base_path',
    modelDir,
    '--diagnostics',
    '--diagnostics-dir',
    o.diagnosticsDir,
    '--log-level',
    'warn',
    // The server goes when this process goes (its stdin pipe closes; a wrapper such as Clinic.js
    // Heap Profiler gives it no stdin, so it watches this pid instead), and removes its model folder.
    ...(o.wrapper?.length ? ['--exit-with-pid', String(process.pid)] : ['--exit-with-parent']),
    '--remove-on-exit',
    modelRoot,
    ...(o.fixes !== undefined ? ['--fixes', o.fixes] : ['--mode', o.mode ?? 'patched']),
    ...(o.modelDelayMs !== undefined ? ['--model-delay-ms', String(o.modelDelayMs)] : []),
    ...(o.grpcMaxThreads !== undefined ? ['--grpc_max_threads', String(o.grpcMaxThreads)] : []),
    ...(o.pollWaitSeconds !== undefined ? ['--file_system_poll_wait_seconds', String(o.pollWaitSeconds)] : []),
  ];
  const [cmd, ...pre] = o.wrapper?.length ? [...o.wrapper, process.execPath] : [process.execPath];
  // stdin is a pipe never written to: when this process dies, however it dies, the server sees it end.
  const child = spawn(cmd!, [...pre, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: o.env ?? process.env,
    ...(o.wrapperCwd ? { cwd: o.wrapperCwd } : {}),
  });
  live.set(child, modelRoot);
  const stderr: string[] = [];
  child.stderr!.on('data', (d: Buffer) => {
    stderr.push(String(d));
    if (stderr.length > 200) stderr.shift();
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const cleanup = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    await rm(modelRoot, { recursive: true, force: true });
    live.delete(child);
  };
  let ready: ServeListeningEvent;
  try {
    ready = await awaitListening(child, {
      parse: parseServeListening,
      what: 'the reference server',
      timeoutMs: o.startTimeoutMs ?? 60_000,
      tail: () => stderr.join('').slice(-800),
    });
  } catch (e) {
    await cleanup();
    throw e;
  }
  // The server loads its models before it listens; check the model is AVAILABLE anyway.
  const http = `http://${ready.rest}`;
  const st = (await (await fetch(`${http}/v1/models/${BUILTIN_MODEL_NAME}`)).json()) as {
    model_version_status?: Array<{ state: string }>;
  };
  if (!st.model_version_status?.some((v) => v.state === 'AVAILABLE')) {
    await cleanup();
    throw new LsError(
      'LS_ERR_TARGET',
      `the reference server started but model '${BUILTIN_MODEL_NAME}' is not AVAILABLE: ${JSON.stringify(st)}`,
    );
  }
  let stopping: Promise<void> | undefined;
  return {
    // The server's own pid (under a wrapper, the child is the wrapper).
    info: {
      kind: 'spawned',
      mode: ready.mode,
      fixes: [...ready.fixes],
      pid: ready.pid,
      grpc: ready.grpc,
      rest: ready.rest,
      ...(ready.diagnostics ? { diagnostics: ready.diagnostics } : {}),
      options: {
        modelDelayMs: o.modelDelayMs,
        grpcMaxThreads: o.grpcMaxThreads,
        pollWaitSeconds: o.pollWaitSeconds,
        exposeGc: o.exposeGc ?? false,
      },
    },
    grpc: ready.grpc,
    http,
    pid: ready.pid,
    ...(ready.diagnostics ? { diagnostics: new DiagnosticsClient(`http://${ready.diagnostics}`) } : {}),
    modelDir,
    modelName: BUILTIN_MODEL_NAME,
    exited,
    stderrTail: () => stderr.join('').slice(-800),
    alive: () => child.exitCode === null && child.signalCode === null && processExists(ready.pid),
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      // Under a wrapper the child is the wrapper: the server itself goes too.
      if (ready.pid !== child.pid && processExists(ready.pid)) process.kill(ready.pid, 'SIGKILL');
    },
    stop: () =>
      (stopping ??= (async () => {
        if (o.wrapper?.length) return stopWrapped(child, ready.pid, exited, o.wrapperStopTimeoutMs ?? 180_000, cleanup);
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const t = setTimeout(() => child.kill('SIGKILL'), 15_000);
          await exited;
          clearTimeout(t);
        }
        await cleanup();
      })()),
  };
}

/**
 * Stops a server that runs under a wrapper (Clinic.js), which analyses and writes its report
 * after the server exits: SIGINT to the server, as Ctrl-C would send it (Clinic's Heap Profiler
 * does not relay one sent to the wrapper), then a bounded wait for the wrapper's own exit.
 * Past `timeoutMs` both are killed and stop() rejects with LS_ERR_TARGET saying so.
 */
async function stopWrapped(
  wrapper: ChildProcess,
  serverPid: number,
  exited: Promise<unknown>,
  timeoutMs: number,
  cleanup: () => Promise<void>,
): Promise<void> {
  if (wrapper.exitCode === null && wrapper.signalCode === null) signal(serverPid, 'SIGINT');
  let timer: NodeJS.Timeout | undefined;
  const late = await Promise.race([
    exited.then(() => false),
    new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(true), timeoutMs);
    }),
  ]);
  clearTimeout(timer);
  if (late) signal(serverPid, 'SIGKILL');
  await cleanup();
  if (late)
    throw new LsError(
      'LS_ERR_TARGET',
      `the wrapper did not exit within ${timeoutMs / 1000} s of the server's SIGINT (it was still writing its report, or hung): it and the server were killed`,
    );
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export interface ExternalOptions {
  /** grpc://host:port */
  readonly grpc?: string;
  /** http://host:port */
  readonly http?: string;
  readonly pid?: number;
  readonly prometheus?: string;
  /** host:port of a Node.js inspector (--inspect). */
  readonly inspect?: string;
  readonly modelName?: string;
  /** Whether to check that a TF Serving gRPC API answers at `grpc`. */
  readonly expectTfServing?: boolean;
}

export function stripScheme(url: string, scheme: string, flag: string): string {
  const m = new RegExp(`^${scheme}://([^/]+)/?$`).exec(url);
  if (!m) throw new LsError('LS_ERR_INVALID_OPTION', `${flag}: expected ${scheme}://host:port, got '${url}'`);
  return m[1]!;
}

/**
 * Connects to a server the runner did not start, checking that what was named is there.
 * @example await connectExternal({ grpc: 'grpc://127.0.0.1:8500', pid: 1234 })
 */
export async function connectExternal(o: ExternalOptions): Promise<Target> {
  const grpc = o.grpc ? stripScheme(o.grpc, 'grpc', '--target') : undefined;
  const http = o.http ? `http://${stripScheme(o.http, 'https?', '--http')}` : undefined;
  if (!grpc && !http && !o.inspect)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--target: give grpc://host:port and/or http://host:port (or --inspect host:port)',
    );
  if (o.pid !== undefined) readProcStats(o.pid); // throws LS_ERR_TARGET naming the pid
  const modelName = o.modelName ?? BUILTIN_MODEL_NAME;
  if (grpc && o.expectTfServing !== false) {
    const c = new TfServingClient(grpc);
    try {
      await c.status({ name: modelName }).catch(async (e: { code?: number; details?: string }) => {
        // NOT_FOUND still proves a TF Serving API answers; anything transport-level does not.
        if (e.code === GrpcCode.UNAVAILABLE || e.code === GrpcCode.DEADLINE_EXCEEDED || e.code === undefined) throw e;
      });
    } catch (e) {
      throw new LsError(
        'LS_ERR_TARGET',
        `cannot reach a TF Serving gRPC API at grpc://${grpc}: ${(e as { details?: string }).details ?? (e as Error).message}`,
      );
    } finally {
      c.close();
    }
  }
  if (http && !grpc) {
    try {
      await fetch(http, { signal: AbortSignal.timeout(5000) });
    } catch (e) {
      throw new LsError(
        'LS_ERR_TARGET',
        `cannot reach ${http}: ${(e as Error).cause instanceof Error ? ((e as Error).cause as Error).message : (e as Error).message}`,
      );
    }
  }
  let inspector: InspectorClient | undefined;
  let pid = o.pid;
  if (o.inspect) {
    inspector = await InspectorClient.connect(o.inspect);
    pid ??= await inspector.pid();
  }
  return {
    info: {
      kind: 'external',
      ...(grpc ? { grpc } : {}),
      ...(http ? { http } : {}),
      ...(pid !== undefined ? { pid } : {}),
      ...(o.prometheus ? { prometheus: o.prometheus } : {}),
      ...(o.inspect ? { inspect: o.inspect } : {}),
    },
    ...(grpc ? { grpc } : {}),
    ...(http ? { http } : {}),
    ...(pid !== undefined ? { pid } : {}),
    ...(o.prometheus ? { prometheus: o.prometheus } : {}),
    ...(inspector ? { inspector } : {}),
    modelName,
    alive: () => pid === undefined || processExists(pid),
    stop: async () => inspector?.close(),
  };
}
