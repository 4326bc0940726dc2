import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LsError } from '../../common/errors.js';
import { compileTemplate, httpRequestFactory, templateContext } from '../../scenarios/http-templates.js';

const badScenario = (f: () => unknown, msg: RegExp) =>
  assert.throws(f, (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_BAD_SCENARIO' && msg.test(e.message));

test('template variables: i, randInt in range, choice from the list, uuid v4 shape, seeded per request', () => {
  const t = compileTemplate('n={{i}} r={{ randInt 5 7 }} c={{choice a b c}} u={{uuid}} f={{randFloat 0 1}}', 'body');
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const s = t(templateContext(i, 9));
    const m =
      /^n=(\d+) r=(\d+) c=([abc]) u=([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}) f=([\d.e-]+)$/.exec(
        s,
      );
    assert.ok(m, s);
    assert.equal(Number(m[1]), i);
    assert.ok(Number(m[2]) >= 5 && Number(m[2]) <= 7);
    assert.ok(Number(m[5]) >= 0 && Number(m[5]) < 1);
    seen.add(m[2]!).add(m[3]!);
    // Same (seed, i), same text, whatever the call order.
    assert.equal(t(templateContext(i, 9)), s);
  }
  for (const v of ['5', '6', '7', 'a', 'b', 'c']) assert.ok(seen.has(v), v);
  assert.equal(compileTemplate('plain {text}', 'x')(templateContext(0)), 'plain {text}');
});

test('template errors name the field and the variable', () => {
  badScenario(
    () => compileTemplate('{{user}}', 'phases[2].http.body'),
    /phases\[2\]\.http\.body: unknown template variable '\{\{user\}\}'.*known: \{\{i\}\}/,
  );
  badScenario(() => compileTemplate('x {{i', 'path'), /path: unclosed/);
  badScenario(() => compileTemplate('{{randInt 1}}', 'b'), /randInt MIN MAX/);
  badScenario(() => compileTemplate('{{randInt 9 1}}', 'b'), /MIN <= MAX/);
  badScenario(() => compileTemplate('{{choice}}', 'b'), /choice A B/);
  badScenario(() => compileTemplate('{{uuid 4}}', 'b'), /\{\{uuid\}\}/);
});

test('generic HTTP target: method, templated path, headers and JSON body', () => {
  const f = httpRequestFactory(
    {
      method: 'put',
      path: '/items/{{i}}?q={{choice x y}}',
      headers: { 'X-Req': 'r{{i}}' },
      body: { id: '{{uuid}}', n: 3, tags: ['{{i}}', true], '2': 'k' },
    },
    'http',
  );
  const r = f(7);
  assert.equal(r.method, 'PUT');
  assert.match(r.path, /^\/items\/7\?q=[xy]$/);
  assert.equal(r.headers['x-req'], 'r7');
  assert.equal(r.headers['content-type'], 'application/json');
  const body = JSON.parse(r.body!);
  assert.equal(body.n, 3);
  assert.deepEqual(body.tags, ['7', true]);
  assert.match(body.id, /^[0-9a-f-]{36}$/);
  // Key order as the object holds it.
  assert.ok(r.body!.indexOf('"id"') < r.body!.indexOf('"tags"'));
  assert.deepEqual(f(7), r);
  const get = httpRequestFactory({ path: '/health' })(0);
  assert.deepEqual(get, { method: 'GET', path: '/health', headers: {} });
  assert.equal(
    httpRequestFactory({ path: '/p', body: 'raw {{i}}', headers: { 'content-type': 'text/plain' } })(3).body,
    'raw 3',
  );
});

test('generic HTTP target validation names the bad field', () => {
  badScenario(() => httpRequestFactory({ method: 'FETCH', path: '/' }, 'phases[0].http'), /phases\[0\]\.http\.method/);
  badScenario(() => httpRequestFactory({ path: 'no-slash' }, 'h'), /h\.path/);
  badScenario(() => httpRequestFactory({ path: '/', headers: { a: 1 as never } }, 'h'), /h\.headers\.a/);
  badScenario(
    () => httpRequestFactory({ path: '/', body: { deep: ['{{nope}}'] } }, 'h'),
    /h\.body\.deep\[0\]: unknown template variable/,
  );
});

test('{{n}} is the run-wide index: the phase base plus {{i}}; {{i}} restarts each phase', () => {
  const phase2 = httpRequestFactory({ method: 'GET', path: '/x?i={{i}}&n={{n}}', indexBase: 40 }, 'phases[1].http');
  assert.equal(phase2(0).path, '/x?i=0&n=40');
  assert.equal(phase2(7).path, '/x?i=7&n=47');
  const first = httpRequestFactory({ method: 'GET', path: '/x?n={{n}}' }, 'phases[0].http');
  assert.equal(first(3).path, '/x?n=3', 'without a base, n equals i');
  badScenario(
    () => compileTemplate('{{n 2}}', 'phases[0].http.path'),
    /phases\[0\]\.http\.path: '\{\{n 2\}\}' takes the form \{\{n\}\}/,
  );
});
