/**
 * Corpus: two long-lived Workers started at boot answer every request round-robin:
 * threads are many but constant, and memory is flat.
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';
import { Worker } from 'node:worker_threads';

const pool = [0, 1].map(() => new Worker(new URL('./workers/echo-worker.js', import.meta.url)));
const waiting = new Map();
let next = 0;
for (const w of pool)
  w.on('message', ({ id, out }) => {
    waiting.get(id)?.(out);
    waiting.delete(id);
  });

http
  .createServer((_req, res) => {
    const id = next++;
    waiting.set(id, (out) => res.end(`${out}\n`));
    pool[id % pool.length].postMessage({ id, n: id });
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
