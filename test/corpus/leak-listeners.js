/**
 * Corpus: each request subscribes to a process-wide event bus and never unsubscribes.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: config-changed|onConfig|_events
 * site: leak-listeners.js:19
 */
import { EventEmitter } from 'node:events';
import http from 'node:http';

const bus = new EventEmitter();
bus.setMaxListeners(0);
const config = { version: 1 };

function handle(req, res) {
  const started = Date.now();
  const path = req.url;
  // the listener closes over this request's data and is never removed
  bus.on('config-changed', function onConfig(next) {
    // LEAK-SITE: the function above is the site
    if (next.version > config.version) console.log(`${path} started ${started} saw config ${next.version}`);
  });
  res.end(`config ${config.version}\n`);
}

http.createServer(handle).listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
  console.log(JSON.stringify({ port: this.address().port }));
});
setInterval(() => bus.emit('config-changed', config), 60_000).unref();
