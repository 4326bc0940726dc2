/**
 * Corpus: a 4 KiB Buffer per request kept in an "upload log": off-heap memory (external,
 * arrayBuffers, RSS) grows 4 KiB per request while the heap holds only small wrappers.
 * expect: LEAK
 * series: arrayBuffersBytes, externalBytes
 * culprit: chunks|Buffer|Uint8Array
 * site: leak-buffers.js:14
 */
import http from 'node:http';

const uploadLog = { chunks: [] };

function keepChunk(n) {
  const b = Buffer.alloc(4096, n % 251); // LEAK-SITE: 4 KiB of backing store per request
  uploadLog.chunks.push(b); // … kept, never released
  return b.length;
}

http
  .createServer((req, res) => {
    const n = Number(new URL(req.url, 'http://x').searchParams.get('n') ?? 0);
    res.end(`kept ${keepChunk(n)} bytes\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
