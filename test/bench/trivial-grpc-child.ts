/**
 * Benchmark target: the trivial grpc-js server (test/helpers/trivial-grpc-server.ts) and the
 * trivial HTTP server (test/helpers/trivial-http-server.ts) in their own process, so the
 * driver under test does not share their event loop. Prints the listening line
 * (common/listening-event.ts) test/helpers/spawn-target.ts waits for.
 */
import { formatListening } from '../../common/listening-event.js';
import { startTrivialGrpcServer } from '../helpers/trivial-grpc-server.js';
import { startTrivialHttpServer } from '../helpers/trivial-http-server.js';

const srv = await startTrivialGrpcServer();
const http = await startTrivialHttpServer();
process.stdout.write(formatListening({ grpc: srv.address, rest: http.url.replace('http://', '') }));
process.on('SIGTERM', () => void Promise.all([srv.close(), http.close()]).then(() => process.exit(0)));
