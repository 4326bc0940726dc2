/**
 * The corpus of small Node HTTP programs in test/corpus/: each file's header states what
 * a diagnosis must find (expected verdict, leaking series, culprit, the allocating line),
 * read here once; and a program started with --inspect on free loopback ports, as a user
 * would start their own service, for `leakscope run --http --inspect --pid`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { packageRoot } from '../../common/package-root.js';

export const CORPUS_DIR = join(packageRoot(), 'test', 'corpus');
export const CORPUS_SCENARIO = join(CORPUS_DIR, 'corpus.yaml');

export interface CorpusProgram {
  readonly name: string;
  readonly file: string;
  readonly expect: 'LEAK' | 'STABLE';
  /** Series keys that must be LEAK (empty for a clean program). */
  readonly series: readonly string[];
  /** A culprit is right when its class, holder or path matches this (null: no culprit). */
  readonly culprit: RegExp | null;
  /** "file.js:line" of the allocating (or subscribing) line, null for a clean program. */
  readonly site: string | null;
}

const field = (text: string, name: string, file: string): string => {
  const m = new RegExp(`^ \\* ${name}: (.+)$`, 'm').exec(text);
  if (!m) throw new Error(`${file}: header has no '${name}:' line`);
  return m[1]!.trim();
};

/** Reads one program's header; throws naming the file and the missing or bad field. */
export function readCorpusProgram(file: string): CorpusProgram {
  const text = readFileSync(file, 'utf8');
  const name = file.slice(file.lastIndexOf('/') + 1).replace(/\.js$/, '');
  const expect = field(text, 'expect', file);
  if (expect !== 'LEAK' && expect !== 'STABLE') throw new Error(`${file}: expect: LEAK or STABLE, got '${expect}'`);
  const list = (v: string) => (v === 'none' ? [] : v.split(/\s*,\s*/));
  const culprit = field(text, 'culprit', file);
  const site = field(text, 'site', file);
  return {
    name,
    file,
    expect,
    series: list(field(text, 'series', file)),
    culprit: culprit === 'none' ? null : new RegExp(culprit),
    site: site === 'none' ? null : site,
  };
}

/** Every program in the corpus, leaks first, by name. */
export function corpusPrograms(): CorpusProgram[] {
  return readdirSync(CORPUS_DIR)
    .filter((f) => /^(leak|clean)-.*\.js$/.test(f))
    .map((f) => readCorpusProgram(join(CORPUS_DIR, f)))
    .sort((a, b) => (a.expect === b.expect ? a.name.localeCompare(b.name) : a.expect === 'LEAK' ? -1 : 1));
}

export interface StartedProgram {
  readonly http: string;
  readonly inspect: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts a corpus program with `--inspect=127.0.0.1:0` and waits for its HTTP port (a JSON
 * line on stdout) and the inspector's address (stderr).
 * @example const p = await startCorpusProgram(prog); …; await p.stop();
 */
export async function startCorpusProgram(p: CorpusProgram, timeoutMs = 20_000): Promise<StartedProgram> {
  const child: ChildProcess = spawn(process.execPath, ['--inspect=127.0.0.1:0', p.file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit').catch(() => undefined);
    }
  };
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (c, s) => reject(new Error(`${p.name} exited (code ${c}, signal ${s}) before it listened`))),
  );
  exited.catch(() => undefined);
  const inspect = new Promise<string>((resolve) => {
    createInterface({ input: child.stderr! }).on('line', (l) => {
      const m = /Debugger listening on ws:\/\/([\d.]+:\d+)\//.exec(l);
      if (m) resolve(m[1]!);
    });
  });
  const port = new Promise<number>((resolve) =>
    createInterface({ input: child.stdout! }).once('line', (l) => resolve(Number(JSON.parse(l).port))),
  );
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${p.name} did not listen within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    const [portN, addr] = await Promise.race([Promise.all([port, inspect]), exited, timeout]);
    return { http: `http://127.0.0.1:${portN}`, inspect: addr, pid: child.pid!, stop };
  } catch (e) {
    await stop();
    throw e;
  } finally {
    clearTimeout(timer);
  }
}
