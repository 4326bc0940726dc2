/**
 * Corpus: every request builds and throws away ~40 KB of short-lived objects: a GC
 * sawtooth on the heap and RSS, with nothing kept.
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';

function score(n) {
  const rows = [];
  for (let i = 0; i < 400; i++) rows.push({ i, key: `row-${n}-${i}`, w: Math.sin(n + i) });
  rows.sort((a, b) => a.w - b.w);
  return rows[0].key;
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    res.end(`${score(n)}\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
