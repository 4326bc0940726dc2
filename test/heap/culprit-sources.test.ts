import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { analyzeRun } from '../../analyzer/analyze-run.js';
import { readRun } from '../../analyzer/run-reader.js';
import { renderRunReport } from '../../reports/html-report.js';
import { runScenario } from '../../scenarios/runner.js';
import { startInspected } from '../helpers/inspected-program.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/**
 * A user's Node server with three leaks in named functions and one warm-up structure that
 * stops growing. Lines matter: the test asserts them (LINE below reads them from here).
 * Each leak keeps ~1.6 KB or more per request, so V8's sampler (one sample per 32 KB
 * allocated) sees every site some 40 times over the run.
 */
const APP = `const http = require('node:http');
const { EventEmitter } = require('node:events');
const bus = new EventEmitter();
bus.setMaxListeners(0);
const cache = new Map();
const warm = [];
class CacheEntry { constructor(n, body) { this.n = n; this.body = body + ':' + String(n).repeat(1000); } }
class WarmThing { constructor(n) { this.n = n; } }
function remember(n, body) {
  cache.set('req-' + n, new CacheEntry(n, body));
}
function subscribe(n) {
  const seen = new Array(200).fill(n);
  bus.on('config-changed', function onConfig() { return seen; });
}
function armTimer(n) {
  const due = new Array(200).fill(n);
  setTimeout(function tick() { return due; }, 3600000).unref();
}
let count = 0;
http.createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    const n = count++;
    if (n < 350) for (let k = 0; k < 20; k++) warm.push(new WarmThing(n));
    remember(n, body);
    subscribe(n);
    armTimer(n);
    res.end('ok');
  });
}).listen(0, '127.0.0.1', function () { console.log(JSON.stringify({ port: this.address().port })); });
`;

/** 1-based line of the first line of APP containing `text`. */
const LINE = (text: string): number => APP.split('\n').findIndex((l) => l.includes(text)) + 1;

test('culprits of a Node server under --inspect name their code: closure file:line, timer callback, allocation site; warm-up is not blamed', async () => {
  await withTmpDir('leakscope-sources-', async (dir) => {
    const script = join(dir, 'app.cjs');
    await writeFile(script, APP);
    const prog = await startInspected(script);
    try {
      const file = join(dir, 'sources.yaml');
      const http = 'transport: http, http: { method: POST, path: /, body: "b{{i}}" }';
      await writeFile(
        file,
        [
          'name: sources',
          'sampleIntervalMs: 100',
          'phases:',
          `  - { name: warmup, requests: 200, rate: 200, ${http}, snapshot: baseline }`,
          `  - { name: load, requests: 400, rate: 200, ${http}, steady: true, snapshot: target, snapshots: 2 }`,
          `  - { name: more, requests: 200, rate: 200, ${http}, steady: true, snapshot: final }`,
        ].join('\n'),
      );
      const out = await runScenario({
        scenario: file,
        target: { kind: 'external', http: `http://127.0.0.1:${prog.port}`, inspect: prog.inspect },
        out: join(dir, 'run'),
      });
      assert.equal(out.manifest.status, 'complete', out.manifest.error);
      assert.deepEqual(
        out.manifest.snapshots.map((s) => s.label),
        ['baseline', 'target-1', 'target-2', 'final'],
      );
      assert.equal(out.manifest.heapProfiles.length, 1, 'allocation sampling is on by default for --inspect');
      const run = readRun(out.dir);
      const a = await analyzeRun(run);
      const leaks = a.heap?.leaks;
      assert.ok(leaks, JSON.stringify(a.heap?.note ?? a.warnings));
      assert.equal(a.heap!.snapshots!.series?.length, 4);
      const by = (cls: string) => leaks.groups.find((g) => g.className === cls);
      const show = JSON.stringify(leaks.groups.map((g) => [g.className, g.heldBy, g.readablePath]));

      const listeners = leaks.groups.find((g) => g.className === '(closure)' && /config-changed/.test(g.heldBy));
      assert.ok(listeners, show);
      assert.match(
        listeners.readablePath!,
        new RegExp(
          `\`bus\` listeners for 'config-changed' ×[\\d,]+ → closure \`onConfig\` at app\\.cjs:${LINE('onConfig')}$`,
        ),
      );
      assert.deepEqual(
        [listeners.allocationSites?.[0]?.functionName, listeners.allocationSites?.[0]?.line],
        ['subscribe', LINE('function subscribe')],
        'the closures were made in subscribe, the function enclosing their definition',
      );
      assert.equal(
        listeners.grewInPairs,
        3,
        `grew between every pair of the four snapshots: ${JSON.stringify([listeners.newPerInterval, a.heap?.snapshots, out.manifest.snapshots])}`,
      );

      const timers = by('Timeout');
      assert.ok(timers, show);
      assert.match(timers.readablePath!, new RegExp(`callback \`tick\` at app\\.cjs:${LINE('function tick')}$`));
      assert.match(timers.heldBy, /_idleNext\/_idlePrev/, 'both directions of the timer ring are one group');
      assert.equal(timers.allocationSites?.[0]?.functionName, 'armTimer', JSON.stringify(timers.allocationSites));

      const entries = by('CacheEntry');
      assert.ok(entries, show);
      assert.match(entries.readablePath!, /`cache` Map entries ×[\d,]+ → CacheEntry$/);
      const site = entries.allocationSites?.[0];
      assert.ok(site, 'the sampling profile names where the entries were allocated');
      assert.equal(site.matchedBy, 'constructor', 'the constructor ran (it builds the body), called from remember');
      assert.equal(site.functionName, 'remember');
      assert.equal(site.line, LINE('function remember'));
      // The statement: the one `new CacheEntry(` inside remember, read from the script.
      assert.deepEqual(entries.sourceLine, {
        how: 'allocated',
        url: site.url,
        line: LINE("cache.set('req-'"),
        functionName: 'remember',
        text: "cache.set('req-' + n, new CacheEntry(n, body));",
      });
      assert.equal(listeners.sourceLine?.line, LINE('onConfig'), 'a closure group: its own definition');
      assert.equal(timers.sourceLine?.how, 'callback');

      assert.equal(by('WarmThing'), undefined, 'warm-up that stopped is not a candidate');
      assert.ok(
        leaks.stopped?.some((s) => s.className === 'WarmThing'),
        JSON.stringify(leaks.stopped),
      );

      const c = a.overall.culprit ?? null;
      const html = renderRunReport(run, a);
      assert.match(html, /closure `onConfig` at app\.cjs:\d+/);
      assert.match(html, /Not blamed: /);
      if (c) assert.ok(c.source, 'a printed culprit carries its code');
    } finally {
      await prog.kill();
    }
  });
});
