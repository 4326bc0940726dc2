/**
 * Corpus: a response cache keyed by the request's id, never evicted (every id is new).
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: responses|Quote
 * site: leak-map-cache.js:22
 */
import http from 'node:http';

class Quote {
  constructor(id) {
    this.id = id;
    this.price = Math.round(Math.random() * 1e4) / 100;
    this.label = `quote for item ${id} (${new Date().toISOString()})`;
  }
}

const responses = new Map();
function quoteFor(id) {
  let q = responses.get(id);
  if (!q) {
    q = new Quote(id); // LEAK-SITE: cached forever under a key that never repeats
    responses.set(id, q);
  }
  return q;
}

http
  .createServer((req, res) => {
    const id = new URL(req.url, 'http://x').searchParams.get('n') ?? '0';
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(quoteFor(id)));
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
