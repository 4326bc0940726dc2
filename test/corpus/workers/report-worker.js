// The worker leak-workers.js starts: it waits for messages forever, so it never exits.
import { parentPort } from 'node:worker_threads';

parentPort.on('message', (m) => {
  parentPort.postMessage({ ack: m.from });
});
