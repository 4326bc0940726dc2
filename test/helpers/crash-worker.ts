/**
 * A handler-thread worker that dies on request: a run request whose first float32 feed
 * starts with -7777 ends the thread mid-request; anything else goes to the real worker.
 * Harmless when the test runner loads it as a plain module (no parent port).
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { decodeRequest } from '../../server/thread-wire.js';

if (!isMainThread && parentPort) {
  const port = parentPort;
  const crashes = (m: unknown) => m instanceof Uint8Array && decodeRequest(m).feeds.some((f) => f.dtype === 'float32' && f.data[0] === -7777);
  // The real worker answers within its own listener, so the crash goes in front of it:
  // its 'message' listener is wrapped as it registers (before any message is delivered).
  const on = port.on.bind(port);
  port.on = ((event: string, listener: (m: unknown) => void) =>
    on(event, event === 'message' ? (m: unknown) => (crashes(m) ? process.exit(7) : listener(m)) : listener)) as typeof port.on;
  await import('../../server/handler-thread-worker.js');
}
