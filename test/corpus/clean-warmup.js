/**
 * Corpus: a lazily filled lookup table: the first request for each of 400 shards builds
 * that shard's entry, after which memory is flat (the table is complete within the warm-up
 * phase at the corpus scenario's rates).
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';

const SHARDS = 400;
const table = new Map();

function shard(n) {
  const k = n % SHARDS;
  let e = table.get(k);
  if (!e) table.set(k, (e = { k, routes: Array.from({ length: 20 }, (_, i) => `shard-${k}/route-${i}`) }));
  return e;
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    res.end(`${shard(n).routes[n % 20]}\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
