/**
 * Corpus: a response cache bounded at 500 entries, least recently used evicted first.
 * Request ids never repeat, so the cache fills once and then only turns over.
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';

const MAX = 500;
const cache = new Map();

function lookup(id) {
  let v = cache.get(id);
  if (v) cache.delete(id);
  else v = { id, body: `item ${id} `.repeat(4) };
  cache.set(id, v); // most recent last
  if (cache.size > MAX) cache.delete(cache.keys().next().value);
  return v;
}

http
  .createServer((req, res) => {
    const id = new URL(req.url, 'http://x').searchParams.get('n') ?? '0';
    res.end(JSON.stringify(lookup(id)));
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
