/**
 * Corpus: a slow leak of about 100 bytes per request: a short request-id string kept
 * in a "recent ids" list that is never trimmed.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: recentIds
 * site: leak-slow.js:14
 */
import http from 'node:http';

const metrics = { recentIds: [] };

function track(n) {
  metrics.recentIds.push(`req-${String(n).padStart(8, '0')}-${(n * 2654435761) % 1e9}`); // LEAK-SITE
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    track(n);
    res.end('ok\n');
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
