/** A handler thread's entry module: see handler-thread-loop.ts. */
import { workerData } from 'node:worker_threads';
import { serveHandlerThread } from './handler-thread-loop.js';
import type { HandlerThreadData } from './thread-wire.js';

serveHandlerThread(workerData as HandlerThreadData);
