/**
 * A small Node program started with --inspect on port 0, as a user's own server would be:
 * it prints `{"port": N}` on stdout once listening; the inspector's address comes from the
 * "Debugger listening on ws://…" line on stderr.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

export interface InspectedProgram {
  readonly child: ChildProcess;
  /** The program's HTTP port. */
  readonly port: number;
  /** host:port of its inspector. */
  readonly inspect: string;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
}

/** Starts `script` under --inspect=127.0.0.1:0 and waits for its port and inspector address. */
export async function startInspected(script: string): Promise<InspectedProgram> {
  const child = spawn(process.execPath, ['--inspect=127.0.0.1:0', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await once(child, 'exit').catch(() => undefined);
  };
  try {
    const inspect = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stderr! }).on('line', (l) => {
        const m = /Debugger listening on ws:\/\/([\d.]+:\d+)\//.exec(l);
        if (m) resolve(m[1]!);
      });
      child.once('exit', (c) => reject(new Error(`${script} exited ${c}`)));
    });
    const port = await new Promise<number>((resolve) =>
      createInterface({ input: child.stdout! }).once('line', (l) => resolve(JSON.parse(l).port)),
    );
    return { child, port, inspect: await inspect, kill };
  } catch (e) {
    await kill();
    throw e;
  }
}
