/**
 * Corpus: a pool of 16 reusable 64 KiB scratch buffers: each request borrows one and gives
 * it back; when all are out it allocates a temporary one that is dropped afterwards.
 * expect: STABLE
 * series: none
 * culprit: none
 * site: none
 */
import http from 'node:http';

const free = Array.from({ length: 16 }, () => Buffer.alloc(64 * 1024));

function withScratch(fn) {
  const b = free.pop() ?? Buffer.alloc(64 * 1024);
  try {
    return fn(b);
  } finally {
    if (free.length < 16) free.push(b);
  }
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    const sum = withScratch((b) => {
      b.fill(n % 256, 0, 1024);
      return b.readUInt32LE(0);
    });
    res.end(`${sum}\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
