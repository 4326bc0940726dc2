/**
 * Starts a server script (`leakscope serve`, a benchmark baseline) as a child process and
 * waits for its listening line (common/listening-event.ts). Used by the benchmarks and by the tests that
 * need a server in a process of its own.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { packageRoot } from '../../common/package-root.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { awaitListening, parseListening } from '../../common/listening-event.js';

export interface Target {
  readonly child: ChildProcess;
  /** host:port */
  readonly grpc: string;
  /** host:port, when the server has REST */
  readonly rest?: string;
  /** Every stdout line and, with `captureStderr`, every stderr chunk: for failure messages. */
  readonly logs: string[];
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

export interface SpawnOptions {
  readonly env?: NodeJS.ProcessEnv;
  /** Keep stderr in `logs` instead of passing it through (tests). */
  readonly captureStderr?: boolean;
  readonly startTimeoutMs?: number;
}

export async function spawnTarget(args: string[], opts: SpawnOptions = {}): Promise<Target> {
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', opts.captureStderr ? 'pipe' : 'inherit'],
    env: opts.env ?? process.env,
  });
  const logs: string[] = [];
  child.stderr?.on('data', (d) => logs.push(String(d)));
  const j = await awaitListening(child, {
    parse: parseListening,
    what: args.join(' '),
    timeoutMs: opts.startTimeoutMs ?? 30_000,
    tail: () => logs.join('\n'),
    onLine: (line) => logs.push(line),
  });
  return {
    child,
    grpc: j.grpc,
    rest: j.rest,
    logs,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null || child.signalCode !== null) return r();
        child.once('exit', () => r());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
      }),
  };
}

/** Starts `leakscope serve` on port 0 in a child process (stderr kept for failure messages). */
export function spawnServe(args: string[], opts: SpawnOptions = {}): Promise<Target> {
  return spawnTarget(
    [join(packageRoot(), 'bin', 'leakscope.js'), 'serve', '--port', '0', '--rest_api_port', '0', ...args],
    { captureStderr: true, startTimeoutMs: 20_000, ...opts },
  );
}

/** Writes version 1 of the CTR model under `root`/ctr and serves it as 'ctr' (log level warn) with `args`. */
export async function spawnCtrServe(root: string, args: string[], opts: SpawnOptions = {}): Promise<Target> {
  await writeModelVersions(join(root, 'ctr'), { features: 10, versions: [1] });
  return spawnServe(
    ['--model_name', 'ctr', '--model_base_path', join(root, 'ctr'), '--log-level', 'warn', ...args],
    opts,
  );
}
