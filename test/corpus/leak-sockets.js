/**
 * Corpus: a connection registry that adds each socket on 'connection' but never removes
 * it on 'close'; every response closes its connection, so each request leaves one
 * detached socket behind.
 * expect: LEAK
 * series: heapUsedSettledBytes
 * culprit: connections|Socket
 * site: leak-sockets.js:21
 */
import http from 'node:http';

const connections = new Set();

const server = http.createServer((_req, res) => {
  res.setHeader('connection', 'close');
  res.end(`${connections.size} connections seen\n`);
});

server.on('connection', (socket) => {
  socket.openedAt = Date.now();
  connections.add(socket); // LEAK-SITE: never deleted on 'close'
});

server.listen(Number(process.env.PORT ?? 0), '127.0.0.1', function () {
  console.log(JSON.stringify({ port: this.address().port }));
});
