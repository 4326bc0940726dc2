/**
 * Corpus: a report Worker started every 500 requests that never exits (its port keeps it
 * alive): threads and RSS grow with requests.
 * expect: LEAK
 * series: threads, rssBytes
 * culprit: Worker|MessagePort|report-worker
 * site: leak-workers.js:17
 */
import http from 'node:http';
import { Worker } from 'node:worker_threads';

const reporters = [];
let served = 0;

function maybeStartReporter() {
  if (++served % 500 !== 0) return;
  const w = new Worker(new URL('./workers/report-worker.js', import.meta.url)); // LEAK-SITE
  w.postMessage({ from: served });
  reporters.push(w);
}

http
  .createServer((_req, res) => {
    maybeStartReporter();
    res.end(`served ${served}, ${reporters.length} reporters\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
