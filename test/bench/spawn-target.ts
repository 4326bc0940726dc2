/** Starts a server script as a child process and waits for its `{"event":"listening"}` line. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface Target {
  readonly child: ChildProcess;
  readonly grpc: string;
  readonly rest?: string;
  stop(): Promise<void>;
}

export function spawnTarget(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Target> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'], env });
  const rl = createInterface({ input: child.stdout! });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${args.join(' ')} did not start within 30 s`));
    }, 30_000);
    child.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}`)));
    rl.on('line', (line) => {
      if (!line.startsWith('{"event":"listening"')) return;
      clearTimeout(timer);
      const j = JSON.parse(line) as { grpc: string; rest?: string };
      resolve({
        child,
        grpc: j.grpc,
        rest: j.rest,
        stop: () =>
          new Promise<void>((r) => {
            if (child.exitCode !== null) return r();
            child.once('exit', () => r());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
          }),
      });
    });
  });
}
