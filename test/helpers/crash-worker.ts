/**
 * A handler-thread worker that dies on request: a run request whose first float32 feed
 * starts with -7777 ends the thread mid-request; anything else goes to the real worker.
 * Harmless when the test runner loads it as a plain module (no parent port).
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { decodeRequest } from '../../server/thread-wire.js';

if (!isMainThread && parentPort) {
  // The real worker first: the port starts delivering once it listens, and a message
  // that arrived before would be seen by the crash listener alone.
  await import('../../server/handler-thread-worker.js');
  parentPort.on('message', (m: unknown) => {
    if (!(m instanceof Uint8Array)) return;
    if (decodeRequest(m).feeds.some((f) => f.dtype === 'float32' && f.data[0] === -7777)) process.exit(7);
  });
}
