/**
 * Corpus: a write-behind queue whose consumer drains 20 jobs a second while requests add
 * more: the backlog (an array of jobs) grows with every request above that rate.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: backlog
 * site: leak-queue.js:14
 */
import http from 'node:http';

const backlog = [];

function enqueue(req, n) {
  backlog.push({ n, url: req.url, at: Date.now(), payload: `event ${n} `.repeat(8) }); // LEAK-SITE
}

setInterval(() => {
  backlog.shift(); // one job per 50 ms: slower than the load
}, 50);

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    enqueue(req, n);
    res.end(`queued, ${backlog.length} waiting\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
