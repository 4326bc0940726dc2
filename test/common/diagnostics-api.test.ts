import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import {
  DIAGNOSTICS_ROUTES,
  DiagnosticsClient,
  type DiagnosticsRoute,
  diagnosticsPath,
  diagnosticsPattern,
} from '../../common/diagnostics-api.js';

/** A stand-in listener on port 0 answering every request with `status` and `body`. */
async function withReply(status: number, body: string, fn: (base: string, seen: string[]) => Promise<void>) {
  const seen: string[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  try {
    await fn(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen);
  } finally {
    await new Promise<void>((ok) => server.close(() => ok()));
  }
}

describe('diagnostics API contract', () => {
  it('builds each route path from its arguments, and each pattern matches what it builds', () => {
    assert.equal(diagnosticsPath('summary', {}), '/diagnostics/summary');
    assert.equal(diagnosticsPath('heapSnapshot', { label: 'a b' }), '/diagnostics/heap-snapshot?label=a+b');
    assert.equal(diagnosticsPath('heapSnapshot', {}), '/diagnostics/heap-snapshot');
    assert.equal(
      diagnosticsPath('threadHeapSnapshot', { thread: 3, label: 'x' }),
      '/diagnostics/threads/3/heap-snapshot?label=x',
    );
    assert.equal(
      diagnosticsPath('allocationSamplingStart', { interval: 1024 }),
      '/diagnostics/allocation-sampling/start?interval=1024',
    );
    for (const route of Object.keys(DIAGNOSTICS_ROUTES) as DiagnosticsRoute[]) {
      const { re, names } = diagnosticsPattern(route);
      const args = Object.fromEntries(names.map((n) => [n, 7]));
      const path = diagnosticsPath(route, args as never).replace('/diagnostics', '');
      const m = re.exec(path);
      assert.ok(m, `${route}: ${path} does not match ${re}`);
      assert.deepEqual(
        m.slice(1),
        names.map(() => '7'),
      );
      // Exactly one route answers each path and method.
      const others = (Object.keys(DIAGNOSTICS_ROUTES) as DiagnosticsRoute[]).filter(
        (r) =>
          r !== route &&
          DIAGNOSTICS_ROUTES[r].method === DIAGNOSTICS_ROUTES[route].method &&
          diagnosticsPattern(r).re.test(path),
      );
      assert.deepEqual(others, [], route);
    }
  });

  it('the client sends the route method and returns the parsed reply', async () => {
    await withReply(
      200,
      '{"ms":1,"heapUsedBefore":2,"heapUsedAfter":1,"rssBefore":3,"rssAfter":3}',
      async (base, seen) => {
        const gc = await new DiagnosticsClient(base).call('gc', {});
        assert.equal(gc.heapUsedAfter, 1);
        assert.deepEqual(seen, ['POST /diagnostics/gc']);
      },
    );
  });

  it("a failed call throws LS_ERR_TARGET with the server's error, or says what came back", async () => {
    await withReply(409, '{"error":"another capture is running"}', async (base) => {
      await assert.rejects(new DiagnosticsClient(base).call('heapSnapshot', { label: 'x' }), {
        code: 'LS_ERR_TARGET',
        message: 'another capture is running',
      });
    });
    await withReply(502, '<html>bad gateway</html>', async (base) => {
      await assert.rejects(new DiagnosticsClient(base).call('summary', {}), {
        code: 'LS_ERR_TARGET',
        message: /GET http:\/\/127\.0\.0\.1:\d+\/diagnostics\/summary: HTTP 502, the reply is not JSON/,
      });
    });
    await withReply(500, '{}', async (base) => {
      await assert.rejects(new DiagnosticsClient(base).call('threads', {}), { message: /threads: HTTP 500$/ });
    });
    await assert.rejects(new DiagnosticsClient('http://127.0.0.1:1').call('summary', {}), {
      code: 'LS_ERR_TARGET',
      message: /^GET http:\/\/127\.0\.0\.1:1\/diagnostics\/summary: /,
    });
  });
});
