/**
 * A trivial HTTP/1.1 server for HTTP driver tests and benchmarks: every request answered
 * with a small body, with switchable behaviour (delay, stall until released, a status
 * code), on a free loopback port.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TrivialHttpBehaviour {
  /** Answer after this many ms (default 0: at once). */
  delayMs?: number;
  /** Hold every request until release() (or the behaviour changes). */
  stall?: boolean;
  /** Answer with this status (default 200). */
  status?: number;
}

export interface TrivialHttpServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly behaviour: TrivialHttpBehaviour;
  /** Requests received so far. */
  readonly received: () => number;
  /** Answers every stalled request. */
  release(): void;
  close(): Promise<void>;
}

const BODY = Buffer.from('{"ok":true}');

/** Starts the server; `close()` ends every connection. */
export async function startTrivialHttpServer(behaviour: TrivialHttpBehaviour = {}): Promise<TrivialHttpServer> {
  let received = 0;
  const stalled: Array<() => void> = [];
  const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    received++;
    const answer = () => {
      if (res.destroyed) return;
      res.writeHead(behaviour.status ?? 200, { 'content-type': 'application/json', 'content-length': BODY.length });
      res.end(BODY);
    };
    req.resume();
    req.on('end', () => {
      if (behaviour.stall) stalled.push(answer);
      else if (behaviour.delayMs) setTimeout(answer, behaviour.delayMs);
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    for (const f of stalled.splice(0)) f();
  };
  return {
    url: `http://127.0.0.1:${port}`,
    behaviour,
    received: () => received,
    release,
    close: () =>
      new Promise<void>((resolve) => {
        release();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
