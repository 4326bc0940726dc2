/**
 * Corpus: a "seen" Set for de-duplicating request ids that only ever grows.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: seenIds
 * site: leak-set-dedupe.js:16
 */
import http from 'node:http';

const seenIds = new Set();
let duplicates = 0;

function remember(req) {
  const key = `${req.method} ${req.url} ${req.headers['user-agent'] ?? ''}`;
  if (seenIds.has(key)) duplicates++;
  else seenIds.add(key); // LEAK-SITE: every distinct request key is kept
}

http
  .createServer((req, res) => {
    remember(req);
    res.end(`ok ${duplicates}\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
