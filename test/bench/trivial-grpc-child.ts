/**
 * Benchmark target: the trivial grpc-js server (test/helpers/trivial-grpc-server.ts) in its
 * own process, so the driver under test does not share its event loop. Prints the
 * listening line (common/listening-event.ts) test/helpers/spawn-target.ts waits for.
 */
import { formatListening } from '../../common/listening-event.js';
import { startTrivialGrpcServer } from '../helpers/trivial-grpc-server.js';

const srv = await startTrivialGrpcServer();
process.stdout.write(formatListening({ grpc: srv.address }));
process.on('SIGTERM', () => void srv.close().then(() => process.exit(0)));
