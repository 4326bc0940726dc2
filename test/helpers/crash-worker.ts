/**
 * A handler-thread worker that dies on request: a run request whose first float32 feed
 * starts with -7777 ends the thread mid-request; anything else is served as usual.
 * Harmless when the test runner loads it as a plain module (no worker data).
 */
import { isMainThread, workerData } from 'node:worker_threads';
import { serveHandlerThread } from '../../server/handler-thread-loop.js';
import type { HandlerThreadData } from '../../server/thread-wire.js';

if (!isMainThread && workerData) {
  serveHandlerThread(workerData as HandlerThreadData, {
    beforeRun(req) {
      if (req.feeds.some((f) => f.dtype === 'float32' && f.data[0] === -7777)) process.exit(7);
    },
  });
}
