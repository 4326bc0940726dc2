/**
 * Corpus: "on finish" hooks registered per request in a module-level list that is never
 * pruned; each closure captures its request (and with it the socket and headers).
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: finishHooks|logTiming
 * site: leak-closures.js:16
 */
import http from 'node:http';

const finishHooks = [];

function registerHook(req) {
  const started = process.hrtime.bigint();
  // the hook closes over req
  finishHooks.push(function logTiming() {
    // LEAK-SITE: the function above is the site
    return `${req.method} ${req.url} took ${process.hrtime.bigint() - started} ns`;
  });
}

http
  .createServer((req, res) => {
    registerHook(req);
    res.end(`${finishHooks.length} hooks\n`);
  })
  .listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
    console.log(JSON.stringify({ port: this.address().port }));
  });
