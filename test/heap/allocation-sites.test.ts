import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { matchAllocationSites, readProfileJson, siteQuery } from '../../analyzer/heap/allocation-profile.js';
import { describeSources } from '../../analyzer/heap/source-locations.js';
import { withTempDir } from './fixtures.js';

interface Node {
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  selfSize: number;
  children: Node[];
}

/** A profile node: `at` is "name url line" with a 1-based line, as a reader writes it. */
const n = (name: string, url: string, line: number, selfSize: number, children: Node[] = [], column = 0): Node => ({
  callFrame: { functionName: name, url, lineNumber: line - 1, columnNumber: column },
  selfSize,
  children,
});

const APP = 'file:///srv/app.js';
/**
 * remember (app.js:9) runs `new CacheEntry` (app.js:7) whose body allocates 4,000 bytes and
 * allocates 1,000 itself; subscribe (app.js:12) allocates 3,000 (its listeners); a request
 * handler (app.js:30) allocates 2,000 directly; setTimeout's Timeout (node:internal) from
 * armTimer (app.js:16) 1,500.
 */
const PROFILE = {
  head: n('(root)', '', 0, 0, [
    n('(anonymous)', APP, 30, 2000, [
      n('remember', APP, 9, 1000, [n('CacheEntry', APP, 7, 4000)]),
      n('subscribe', APP, 12, 3000, [], 9),
      n('armTimer', APP, 16, 0, [
        n('setTimeout', 'node:timers', 140, 0, [n('Timeout', 'node:internal/timers', 160, 1500)]),
      ]),
    ]),
  ]),
};

test('allocation sites per leak group: constructor caller, function enclosing the closure, else the largest site left', () => {
  const queries = [
    siteQuery('CacheEntry'),
    // The listeners: closures defined at app.js:13 inside subscribe.
    siteQuery('(closure)', [{ kind: 'closure', url: '/srv/app.js', line: 13, column: 44 }]),
    siteQuery('Timeout'),
    siteQuery('(string)'),
  ];
  const [entry, closures, timers, strings] = matchAllocationSites(PROFILE, 'p.heapprofile', queries);
  assert.deepEqual(entry, [{ functionName: 'remember', url: APP, line: 9, bytes: 4000, matchedBy: 'constructor' }]);
  assert.deepEqual(closures, [{ functionName: 'subscribe', url: APP, line: 12, bytes: 3000, matchedBy: 'enclosing' }]);
  assert.deepEqual(
    timers?.map((s) => [s.functionName, s.matchedBy, s.bytes]),
    [['armTimer', 'constructor', 1500]],
    "Node's own constructor: the nearest program frame above it",
  );
  // Strings: no constructor ran, no closure: the largest sites no other group explains
  // (remember, subscribe and armTimer are explained; the constructor's own 4,000 bytes and
  // the handler's 2,000 are not).
  assert.deepEqual(
    strings?.map((s) => [s.functionName, s.line, s.matchedBy]),
    [
      ['CacheEntry', 7, 'largest'],
      ['(anonymous)', 30, 'largest'],
    ],
  );
  assert.equal(
    describeSources(
      [{ kind: 'closure', functionName: 'onConfig', url: '/srv/app.js', line: 13, column: 44 }],
      closures,
    ),
    'made at app.js:12 in `subscribe`; closure `onConfig` at app.js:13',
  );
  assert.equal(describeSources([], entry), 'allocated at app.js:9 in `remember`');
});

test('a callback held by the leaked objects is matched like a closure member', () => {
  const q = siteQuery('Timeout', [
    { kind: 'closure', url: 'node:timers', line: 244, column: 1 },
    { kind: 'callback', url: '/srv/app.js', line: 17, column: 14 },
  ]);
  assert.deepEqual(q, { className: 'Timeout', closure: { url: '/srv/app.js', line: 17, column: 14 } });
});

test('bad profiles: a clear error naming the file, never a crash', async () => {
  assert.throws(() => matchAllocationSites({ nodes: [] }, 'x.cpuprofile', [{ className: 'A' }]), {
    code: 'LS_ERR_BAD_FILE',
    message: /x\.cpuprofile: not a V8 sampling heap profile/,
  });
  await withTempDir(async (dir) => {
    const f = join(dir, 'cut.heapprofile');
    await writeFile(f, '{"head": {"callFrame"');
    assert.throws(() => readProfileJson(f), {
      code: 'LS_ERR_BAD_FILE',
      message: /cut\.heapprofile: cannot read the heap profile/,
    });
    assert.throws(() => readProfileJson(join(dir, 'none.heapprofile')), {
      code: 'LS_ERR_BAD_FILE',
      message: /none\.heapprofile: cannot read the heap profile \(ENOENT\)/,
    });
  });
});
