// The pool worker of clean-worker-pool.js: answers each message and keeps nothing.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', ({ id, n }) => parentPort.postMessage({ id, out: (n * 7919) % 1000003 }));
