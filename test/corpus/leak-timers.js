/**
 * Corpus: a per-request "session keep-alive" interval that is never cleared.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: Timeout|keepAlive|session
 * site: leak-timers.js:15
 */
import http from 'node:http';

let pings = 0;

function startSession(id) {
  const session = { id, lastSeen: Date.now(), tags: [`session-${id}`, 'web'] };
  // an hourly interval per request, never cleared, holds the session
  setInterval(function keepAlive() {
    // LEAK-SITE: the function above is the site
    session.lastSeen = Date.now();
    pings++;
  }, 3_600_000);
  return session;
}

http
  .createServer((req, res) => {
    const id = new URL(req.url, 'http://x').searchParams.get('n') ?? '0';
    const s = startSession(id);
    res.end(`session ${s.id} (${pings} pings)\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
