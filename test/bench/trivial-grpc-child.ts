/**
 * Benchmark target: the trivial grpc-js server (test/helpers/trivial-grpc-server.ts) in its
 * own process, so the driver under test does not share its event loop. Prints the
 * `{"event":"listening"}` line test/helpers/spawn-target.ts waits for.
 */
import { startTrivialGrpcServer } from '../helpers/trivial-grpc-server.js';

const srv = await startTrivialGrpcServer();
process.stdout.write(`${JSON.stringify({ event: 'listening', grpc: srv.address })}\n`);
process.on('SIGTERM', () => void srv.close().then(() => process.exit(0)));
