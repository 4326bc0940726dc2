/**
 * The start-up line a server prints on stdout once it listens: one JSON object on one
 * line, `{"event":"listening", …}`. `leakscope serve` always prints it whatever the log
 * level (scripts and the scenario runner read the ports there); the benchmarks' baseline
 * servers print the same line with only the fields they have. Readers parse the JSON and
 * never depend on its key order.
 */
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { LsError } from './errors.js';
import { isRecord } from './objects.js';

/** Any server's listening line: a gRPC address at least. */
export interface ListeningEvent {
  readonly event: 'listening';
  /** host:port of the gRPC API. */
  readonly grpc: string;
  /** host:port of the REST API, when there is one. */
  readonly rest?: string;
  /** 127.0.0.1:port of the diagnostics interface; null when it is off. */
  readonly diagnostics?: string | null;
  readonly mode?: string;
  readonly fixes?: readonly string[];
  readonly pid?: number;
}

/** The reference server's line (`leakscope serve`): every field present. */
export interface ServeListeningEvent extends ListeningEvent {
  readonly rest: string;
  readonly diagnostics: string | null;
  readonly mode: string;
  readonly fixes: readonly string[];
  readonly pid: number;
}

/**
 * The line to print, newline included.
 * @example process.stdout.write(formatListening({ grpc: '127.0.0.1:8500' }))
 */
export function formatListening(e: Omit<ListeningEvent, 'event'>): string {
  return `${JSON.stringify({ event: 'listening', ...e })}\n`;
}

const bad = (what: string, v: unknown): LsError =>
  new LsError('LS_ERR_TARGET', `the server's listening line has a bad '${what}': ${JSON.stringify(v)}`);

const ADDRESS = /^\S+:\d{1,5}$/;

/**
 * The listening event in one stdout line; undefined when the line is something else (a
 * log line, plain text). A listening line with a missing or malformed field throws
 * LS_ERR_TARGET naming the field.
 * @example parseListening('{"event":"listening","grpc":"127.0.0.1:8500"}')?.grpc // "127.0.0.1:8500"
 */
export function parseListening(line: string): ListeningEvent | undefined {
  if (!line.trimStart().startsWith('{')) return undefined;
  let j: unknown;
  try {
    j = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (!isRecord(j) || j.event !== 'listening') return undefined;
  if (typeof j.grpc !== 'string' || !ADDRESS.test(j.grpc)) throw bad('grpc', j.grpc);
  if (j.rest !== undefined && (typeof j.rest !== 'string' || !ADDRESS.test(j.rest))) throw bad('rest', j.rest);
  if (
    j.diagnostics !== undefined &&
    j.diagnostics !== null &&
    (typeof j.diagnostics !== 'string' || !ADDRESS.test(j.diagnostics))
  )
    throw bad('diagnostics', j.diagnostics);
  if (j.mode !== undefined && typeof j.mode !== 'string') throw bad('mode', j.mode);
  if (j.fixes !== undefined && !(Array.isArray(j.fixes) && j.fixes.every((f) => typeof f === 'string')))
    throw bad('fixes', j.fixes);
  if (j.pid !== undefined && !(Number.isSafeInteger(j.pid) && (j.pid as number) > 0)) throw bad('pid', j.pid);
  return j as unknown as ListeningEvent;
}

/**
 * The reference server's listening event in one stdout line (see parseListening); a
 * listening line without the reference server's fields throws LS_ERR_TARGET naming them.
 */
export function parseServeListening(line: string): ServeListeningEvent | undefined {
  const e = parseListening(line);
  if (!e) return undefined;
  const missing = (['rest', 'diagnostics', 'mode', 'fixes', 'pid'] as const).filter((k) => e[k] === undefined);
  if (missing.length)
    throw new LsError(
      'LS_ERR_TARGET',
      `the listening line lacks ${missing.join(', ')}: is this leakscope's reference server? ${line.slice(0, 200)}`,
    );
  return e as ServeListeningEvent;
}

export interface AwaitListeningOptions<E extends ListeningEvent> {
  /** parseListening, parseServeListening: undefined for other lines, throws on a bad listening line. */
  readonly parse: (line: string) => E | undefined;
  /** Names the child in errors ("the reference server"). */
  readonly what: string;
  readonly timeoutMs: number;
  /** The child's recent output, for the error messages. */
  readonly tail: () => string;
  /** Sees every stdout line, the listening line included, and the lines after it. */
  readonly onLine?: (line: string) => void;
}

/**
 * Waits for a spawned server's listening line on its stdout. Rejects with LS_ERR_TARGET when
 * the child exits first, prints a bad listening line, or stays silent past `timeoutMs`; in the
 * last two cases the child is killed (SIGKILL).
 * @example const e = await awaitListening(child, { parse: parseListening, what: 'serve', timeoutMs: 20_000, tail: () => '' });
 */
export function awaitListening<E extends ListeningEvent>(child: ChildProcess, o: AwaitListeningOptions<E>): Promise<E> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (e: unknown) => {
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(e);
    };
    const timer = setTimeout(
      () => fail(new LsError('LS_ERR_TARGET', `${o.what} did not start within ${o.timeoutMs / 1000} s: ${o.tail()}`)),
      o.timeoutMs,
    );
    child.once('exit', (code, signal) => {
      settled = true;
      clearTimeout(timer);
      reject(
        new LsError('LS_ERR_TARGET', `${o.what} exited during start-up (code ${code}, signal ${signal}): ${o.tail()}`),
      );
    });
    // Read to the end even after the listening line: a full stdout pipe would stall the child.
    createInterface({ input: child.stdout! }).on('line', (line) => {
      o.onLine?.(line);
      if (settled) return;
      let event: E | undefined;
      try {
        event = o.parse(line);
      } catch (e) {
        fail(e);
        return;
      }
      if (!event) return;
      settled = true;
      clearTimeout(timer);
      resolve(event);
    });
  });
}
