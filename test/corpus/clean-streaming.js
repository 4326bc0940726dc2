/**
 * Corpus: each response is a ~30 KiB CSV streamed from a generator through pipeline(),
 * 50 rows a chunk, with backpressure; nothing outlives the response.
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

function* rows(n) {
  yield 'id,value,label\n';
  for (let c = 0; c < 1500; c += 50) {
    let chunk = '';
    for (let i = c; i < c + 50; i++) chunk += `${i},${(n * 31 + i) % 997},row-${n}-${i}\n`;
    yield chunk;
  }
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    res.setHeader('content-type', 'text/csv');
    pipeline(Readable.from(rows(n)), res).catch(() => res.destroy());
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
