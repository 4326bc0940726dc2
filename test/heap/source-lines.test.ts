import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { HeapAllocationSite } from '../../common/analysis-format.js';
import { pinpointLine, scriptReader, type LineQuery, withoutComment } from '../../analyzer/heap/source-lines.js';
import { describeSources } from '../../analyzer/heap/source-locations.js';
import { withTempDir } from './fixtures.js';

/** A user's script; LINE reads the 1-based line of a text from it, so the asserts follow edits. */
const APP = `const http = require('node:http');
const connections = new Set();
class Quote { constructor(id) { this.id = id; } }
const responses = new Map();
function quoteFor(id) {
  let q = responses.get(id);
  if (!q) {
    q = new Quote(id); // cached forever
    responses.set(id, q);
  }
  return q;
}
function sample() { return new Quote('sample'); }
const server = http.createServer();
// connections.add(socket) is what a fix would undo
server.on('connection', (socket) => { connections.add(socket); });
const log = [];
function a(x) { log.push(x); }
function b(x) { log.push(x); }
const chunks = [];
function keep(n) {
  const c = Buffer.alloc(4096, n);
  chunks.push(c);
}
class LruStore { constructor() { this.items = new Map(); }
  put(k, v) { this.items.set(k, v); } }
class KeepAll {
  constructor() { this.items = new Map(); }
  put(k, v) {
    this.items.set(k, v); // never evicted
  }
}
`;
const LINE = (text: string): number => APP.split('\n').findIndex((l) => l.includes(text)) + 1;

const query = (url: string, q: Partial<LineQuery> & { className: string }): LineQuery => ({
  holder: null,
  codeSites: [],
  allocationSites: [],
  scripts: [url],
  ...q,
});

test('a trailing comment is left out of a line, a URL in a string is not', () => {
  assert.equal(withoutComment("const u = new URL(p, 'http://x'); // base URL"), "const u = new URL(p, 'http://x');");
  assert.equal(withoutComment('chunks.push(b); // kept'), 'chunks.push(b);');
  assert.equal(withoutComment('const s = `a // b`;'), 'const s = `a // b`;');
});

test('the statement behind a group: allocated in the matched function, else the one store into its holder, else nothing', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'app.js');
    await writeFile(file, APP);
    const url = pathToFileURL(file).href;
    const read = scriptReader();
    const quoteFor: HeapAllocationSite = {
      functionName: 'quoteFor',
      url,
      line: LINE('function quoteFor'),
      bytes: 4096,
      matchedBy: 'constructor',
    };

    // `new Quote(` appears twice in the script; the profile's function picks its own.
    const quote = pinpointLine(
      query(url, { className: 'Quote', holder: 'responses', allocationSites: [quoteFor] }),
      read,
    );
    assert.deepEqual(quote, {
      how: 'allocated',
      url,
      line: LINE('q = new Quote(id)'),
      functionName: 'quoteFor',
      text: 'q = new Quote(id);',
    });
    assert.equal(
      describeSources([], [quoteFor], quote!),
      'allocated at app.js:8 (`q = new Quote(id);`) in `quoteFor`',
      'the comment is left out; the function is not said twice',
    );
    // No profile: two `new Quote(` lines are no answer, the one store into `responses` is.
    assert.deepEqual(pinpointLine(query(url, { className: 'Quote', holder: 'responses' }), read), {
      how: 'kept',
      url,
      line: LINE('responses.set(id, q)'),
      text: 'responses.set(id, q);',
    });
    // Sockets are made by Node: the one line adding them to `connections` (the comment
    // mentioning it is not code).
    assert.equal(
      pinpointLine(query(url, { className: 'Socket', holder: 'connections' }), read)?.line,
      LINE('{ connections.add(socket); }'),
    );
    // Buffers: the one Buffer.alloc in the program, before the line keeping them.
    assert.deepEqual(pinpointLine(query(url, { className: 'Buffer', holder: 'chunks' }), read), {
      how: 'allocated',
      url,
      line: LINE('Buffer.alloc(4096'),
      text: 'const c = Buffer.alloc(4096, n);',
    });
    // Two classes store into a field `items`: the class owning the leaking one decides.
    assert.deepEqual(
      pinpointLine(query(url, { className: '(string)', holder: 'items', holderClass: 'KeepAll' }), read),
      {
        how: 'kept',
        url,
        line: APP.split('\n').lastIndexOf('    this.items.set(k, v); // never evicted') + 1,
        functionName: 'KeepAll',
        text: 'this.items.set(k, v);',
      },
    );
    assert.equal(pinpointLine(query(url, { className: '(string)', holder: 'items' }), read), null);
    // Two functions push into `log`: which one leaks is not known, so nothing is said.
    assert.equal(pinpointLine(query(url, { className: 'Object', holder: 'log' }), read), null);
    // A holder name that is not an identifier, or no script to read: nothing.
    assert.equal(pinpointLine(query(url, { className: 'Object', holder: 'config-changed' }), read), null);
    assert.equal(
      pinpointLine(query('file:///nonexistent/app.js', { className: 'Quote', holder: 'responses' }), read),
      null,
    );
    assert.equal(pinpointLine(query('node:net', { className: 'Socket', holder: 'connections' }), read), null);

    // A group of closures: the snapshot's location of the closure is exact, and wins.
    const closure = { kind: 'closure' as const, functionName: 'onConnection', url: file, line: 16, column: 26 };
    assert.deepEqual(pinpointLine(query(url, { className: '(closure)', codeSites: [closure] }), read), {
      how: 'closure',
      url: file,
      line: 16,
      functionName: 'onConnection',
      text: "server.on('connection', (socket) => { connections.add(socket); });",
    });
    // Node's own closures are the route, not the code to fix.
    assert.equal(
      pinpointLine(query(url, { className: '(closure)', codeSites: [{ ...closure, url: 'node:events' }] }), read),
      null,
    );
  });
});
