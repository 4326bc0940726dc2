import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { gateRun } from '../../pipeline/gate-run.js';
import { runScenario } from '../../scenarios/runner.js';
import {
  CORPUS_DIR,
  CORPUS_SCENARIO,
  corpusPrograms,
  readCorpusProgram,
  startCorpusProgram,
} from '../helpers/corpus.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('the corpus: at least 15 programs, 10 leaks and 5 clean, each header naming a line that is the leak site', () => {
  const all = corpusPrograms();
  const leaks = all.filter((p) => p.expect === 'LEAK');
  const clean = all.filter((p) => p.expect === 'STABLE');
  assert.ok(
    all.length >= 15 && leaks.length >= 10 && clean.length >= 5,
    `${leaks.length} leaks, ${clean.length} clean`,
  );
  for (const p of leaks) {
    assert.ok(p.series.length > 0 && p.culprit, `${p.name}: a leak names its series and culprit`);
    const [file, line] = p.site!.split(':');
    assert.equal(file, `${p.name}.js`, `${p.name}: site is in the program itself`);
    // The marker is on the site's line, or first in the body of a function defined there.
    const lines = readFileSync(p.file, 'utf8').split('\n');
    const text = lines[Number(line) - 1] ?? '';
    const marked = /LEAK-SITE/.test(text) || (/\{$/.test(text) && /^\s*\/\/ LEAK-SITE/.test(lines[Number(line)] ?? ''));
    assert.ok(marked, `${p.site} is not the line marked LEAK-SITE: ${text}`);
  }
  for (const p of clean) assert.ok(p.series.length === 0 && p.culprit === null && p.site === null, p.name);
});

test('a corpus header without its fields is refused, naming the file and the field', () => {
  assert.throws(
    () => readCorpusProgram(join(CORPUS_DIR, 'workers', 'echo-worker.js')),
    /echo-worker\.js: header has no 'expect:' line/,
  );
});

/**
 * Two programs end to end, as `npm run bench:corpus` runs them but shorter (8 s steady
 * phases): what holds today on a loaded machine. The off-heap leak is seen in ArrayBuffer
 * and external memory read inside the target, with the Buffers as culprit; the pool is no
 * leak and passes the gate.
 */
test('corpus end to end: off-heap Buffers read LEAK on ArrayBuffer memory; a buffer pool passes the gate', async () => {
  const byName = new Map(corpusPrograms().map((p) => [p.name, p]));
  await withTmpDir('leakscope-corpus-test-', async (dir) => {
    for (const name of ['leak-buffers', 'clean-pool']) {
      const p = byName.get(name)!;
      const prog = await startCorpusProgram(p);
      try {
        const out = await runScenario({
          scenario: CORPUS_SCENARIO,
          overrides: { durationS: 8 },
          target: { kind: 'external', http: prog.http, inspect: prog.inspect, pid: prog.pid },
          out: join(dir, name),
        });
        assert.equal(out.manifest.status, 'complete', out.manifest.error);
        const { result, analysis: a } = await gateRun(out.dir);
        const series = new Map(a.series.map((s) => [s.key, s]));
        assert.ok(series.has('arrayBuffersBytes') && series.has('threads'), [...series.keys()].join(', '));
        if (p.expect === 'LEAK') {
          assert.equal(a.overall.verdict, 'LEAK', a.overall.headline);
          for (const k of p.series)
            assert.equal(series.get(k as never)?.verdict, 'LEAK', `${k}: ${series.get(k as never)?.reason}`);
          const perRequest = series.get('arrayBuffersBytes')!.perRequest!;
          assert.ok(
            perRequest.low > 2048 && perRequest.high < 8192,
            `4 KiB/request kept: ${series.get('arrayBuffersBytes')!.reason}`,
          );
          const c = a.overall.culprit!;
          assert.match(`${c.className} ${c.heldBy} ${c.path}`, p.culprit!);
          // The Buffers' off-heap bytes: one 4 KiB backing store each, and the line allocating them.
          const bs = c.backingStores;
          assert.ok(bs && bs.count >= 100 && bs.each === 4096 && bs.bytes === bs.count * 4096, JSON.stringify(bs));
          assert.match(
            a.overall.headline,
            /Buffer × [\d,]+ held by .* holding [\d.]+ [KM]iB of backing stores \(4 KiB each\)/,
          );
          assert.equal(`${p.name}.js:${c.sourceLine?.line}`, p.site, JSON.stringify(c.sourceLine));
          assert.match(
            c.source ?? '',
            /^allocated at leak-buffers\.js:\d+ \(`const b = Buffer\.alloc\(4096, n % 251\);`\)/,
          );
          assert.equal(result.pass, false);
        } else {
          assert.notEqual(a.overall.verdict, 'LEAK', a.overall.headline);
          assert.equal(result.pass, true, JSON.stringify(result.checks.filter((x) => x.status === 'fail')));
        }
      } finally {
        await prog.stop();
      }
    }
  });
});
