/**
 * Corpus: audit entries wait on a "flushed" promise that never settles (the flusher was
 * never started), so each request parks a continuation holding its entry.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: flushed|Promise|audit
 * site: leak-promises.js:20
 */
import http from 'node:http';

let markFlushed;
const flushed = new Promise((resolve) => {
  markFlushed = resolve; // only a flusher that is never started would call it
});
const written = [];

async function audit(req) {
  const entry = { url: req.url, at: new Date().toISOString(), agent: req.headers['user-agent'] ?? 'none' };
  entry.note = `audit of ${entry.url} at ${entry.at}`;
  await flushed; // LEAK-SITE: the continuation (and entry) waits here forever
  written.push(entry);
}

http
  .createServer((req, res) => {
    void audit(req);
    res.end(`ok ${written.length}\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port, canFlush: typeof markFlushed }));
  });
