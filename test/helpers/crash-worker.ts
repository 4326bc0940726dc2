/**
 * A handler-thread worker that dies on request: a 'run' whose fetches name '__crash__'
 * ends the thread mid-request; anything else goes to the real worker. Harmless when the
 * test runner loads it as a plain module (no parent port).
 */
import { isMainThread, parentPort } from 'node:worker_threads';

if (!isMainThread && parentPort) {
  // The real worker first: the port starts delivering once it listens, and a message
  // that arrived before would be seen by the crash listener alone.
  await import('../../server/handler-thread-worker.js');
  parentPort.on('message', (m: { type: string; fetches?: string[] }) => {
    if (m.type === 'run' && m.fetches?.includes('__crash__')) process.exit(7);
  });
}
