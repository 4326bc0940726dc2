/**
 * A trivial grpc-js server for driver tests and benchmarks: one unary method on any path,
 * answering an empty message, with switchable behaviour (delay, stall until released,
 * fail with a status code).
 */
import * as grpc from '@grpc/grpc-js';

export interface TrivialBehaviour {
  /** Answer after this many ms (default 0: at once). */
  delayMs?: number;
  /** Hold every call until release() (or the behaviour changes). */
  stall?: boolean;
  /** Fail with this gRPC status code instead of answering OK. */
  failCode?: number;
}

export interface TrivialServer {
  readonly address: string;
  readonly behaviour: TrivialBehaviour;
  /** Calls received so far. */
  readonly received: () => number;
  /** Answers every stalled call. */
  release(): void;
  close(): Promise<void>;
}

const id = (b: Buffer) => b;
export const TRIVIAL_PATH = '/test.Trivial/Call';

/** A unary method on `path` whose requests and answers stay raw bytes (the handler decodes, if at all). */
export function rawUnaryMethod(path: string): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream: false,
    responseStream: false,
    requestSerialize: id,
    requestDeserialize: id,
    responseSerialize: id,
    responseDeserialize: id,
  };
}

/** Binds `server` to 127.0.0.1 on a free port; resolves to its host:port. */
export async function bindLoopback(server: grpc.Server): Promise<string> {
  const port = await new Promise<number>((res, rej) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return `127.0.0.1:${port}`;
}

/** Starts the server on 127.0.0.1, port 0, serving `path` (default /test.Trivial/Call). */
export async function startTrivialGrpcServer(
  behaviour: TrivialBehaviour = {},
  path = TRIVIAL_PATH,
): Promise<TrivialServer> {
  const server = new grpc.Server();
  let received = 0;
  const stalled: Array<() => void> = [];
  const answer = (cb: grpc.sendUnaryData<Buffer>) => {
    if (behaviour.failCode !== undefined) cb({ code: behaviour.failCode, details: 'trivial server refuses' });
    else cb(null, Buffer.alloc(0));
  };
  server.addService(
    { Call: rawUnaryMethod(path) },
    {
      Call: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        received++;
        if (behaviour.stall) stalled.push(() => answer(cb));
        else if (behaviour.delayMs) setTimeout(() => answer(cb), behaviour.delayMs);
        else answer(cb);
      },
    },
  );
  const address = await bindLoopback(server);
  const release = () => {
    for (const f of stalled.splice(0)) f();
  };
  return {
    address,
    behaviour,
    received: () => received,
    release,
    close: () =>
      new Promise<void>((r) => {
        release();
        server.tryShutdown(() => r());
        setTimeout(() => {
          server.forceShutdown();
          r();
        }, 2000).unref();
      }),
  };
}
