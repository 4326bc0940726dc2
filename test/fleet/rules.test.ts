/**
 * `leakscope rules` checked by Prometheus' own tools: `promtool check rules` accepts the
 * file, and `promtool test rules` evaluates it over a leaky and a patched instance — every
 * alert fires for the leaky one and none for the patched one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { main } from '../../cli/main.js';
import { PROMTOOL_BIN, prometheusMissing } from '../../pipeline/prometheus-server.js';
import { captureIo } from '../helpers/capture-io.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const skip = prometheusMissing() ?? false;
const run = promisify(execFile);

const series = (name: string, instance: string, values: string) => ({
  series: `${name}{job="serving",instance="${instance}"}`,
  values,
});

/** Per minute: leaky RSS +4 MB, heap +400 kB, cache +300 entries at 600 requests; patched flat. */
const INPUT = [
  series('leakscope_requests_total', 'leaky', '0+600x200'),
  series('process_resident_memory_bytes', 'leaky', '1e8+4e6x200'),
  series('nodejs_heap_size_used_bytes', 'leaky', '5e7+4e5x200'),
  series('leakscope_executor_cache_entries', 'leaky', '1+300x200'),
  series('leakscope_handler_threads', 'leaky', '200+0x200'),
  series('leakscope_handler_threads_cap', 'leaky', '-1+0x200'),
  series('leakscope_requests_total', 'patched', '0+600x200'),
  series('process_resident_memory_bytes', 'patched', '1e8+0x200'),
  series('nodejs_heap_size_used_bytes', 'patched', '5e7+0x200'),
  series('leakscope_executor_cache_entries', 'patched', '1+0x200'),
  series('leakscope_handler_threads', 'patched', '8+0x200'),
  series('leakscope_handler_threads_cap', 'patched', '8+0x200'),
];

const firing = (alertname: string, labels: Record<string, string>) => ({
  labels: `ALERTS{${Object.entries({ alertname, alertstate: 'firing', instance: 'leaky', ...labels })
    .map(([k, v]) => `${k}="${v}"`)
    .join(',')}}`,
  value: 1,
});

test('leakscope rules: promtool accepts them, and they fire on a leaky instance only', { skip }, async () => {
  await withTmpDir('leakscope-rules-', async (dir) => {
    const rules = join(dir, 'rules.yml');
    const c = captureIo();
    const code = await main(['rules', '--selector', '{job="serving"}', '--limit', '1GiB', '--out', rules], c.io);
    assert.equal(code, 0, c.err());
    const checked = await run(PROMTOOL_BIN, ['check', 'rules', rules]);
    assert.match(checked.stdout, /SUCCESS: 16 rules found/);
    const testFile = join(dir, 'rules.test.yml');
    await writeFile(
      testFile,
      JSON.stringify({
        rule_files: [rules],
        evaluation_interval: '1m',
        tests: [
          {
            interval: '1m',
            input_series: INPUT,
            promql_expr_test: [
              {
                expr: 'ALERTS{alertstate="firing"}',
                eval_time: '150m',
                exp_samples: [
                  firing('LeakscopeRssBytesGrowthPerRequest', {
                    severity: 'warning',
                    leakscope_budget: 'series.rssBytes.maxPerRequest',
                  }),
                  firing('LeakscopeHeapUsedBytesGrowthPerRequest', {
                    severity: 'warning',
                    leakscope_budget: 'series.heapUsedSettledBytes.maxPerRequest',
                  }),
                  firing('LeakscopeExecutorCacheEntriesGrowthPerRequest', {
                    severity: 'warning',
                    leakscope_budget: 'series.cacheEntries.maxPerRequest',
                  }),
                  firing('LeakscopeMemoryLimitSoon', { severity: 'critical' }),
                  firing('LeakscopeThreadsAboveCap', { severity: 'warning', leakscope_budget: 'threads.maxPeak' }),
                  firing('LeakscopeThreadsUncapped', { severity: 'info', leakscope_budget: 'threads.mustBeBounded' }),
                ],
              },
              // Growth must hold for the whole `for` (1 h at 95 %): after 50 minutes the growth alerts are only pending.
              {
                expr: 'count(ALERTS{alertstate="firing",alertname=~".*PerRequest"}) or vector(0)',
                eval_time: '50m',
                exp_samples: [{ labels: '{}', value: 0 }],
              },
            ],
          },
        ],
      }),
    );
    const tested = await run(PROMTOOL_BIN, ['test', 'rules', testFile]).catch(
      (e: { stdout: string; stderr: string }) => {
        assert.fail(`promtool test rules failed:\n${e.stdout}\n${e.stderr}`);
      },
    );
    assert.match(tested.stdout, /SUCCESS/);
  });
});

test('leakscope rules: a stricter confidence holds alerts longer; bad input exits 2', async () => {
  await withTmpDir('leakscope-rules-', async (dir) => {
    const budget = join(dir, 'budget.json');
    await writeFile(budget, JSON.stringify({ extends: 'default', confidence: 0.99 }));
    const c = captureIo();
    assert.equal(await main(['rules', '--budget', budget, '--by', 'pod'], c.io), 0, c.err());
    assert.match(c.out(), /for: 104m/, '(2.576/1.960)² × 1 h, rounded up to minutes');
    assert.match(c.out(), /max by \(pod\)/);
    assert.doesNotMatch(c.out(), /LeakscopeMemoryLimitSoon/, 'no limit, no predict_linear alert');
    for (const [args, message] of [
      [['--window', 'an hour'], /--window: 'an hour' is not a duration/],
      [['--selector', 'job="x"'], /--selector: 'job="x"' is not a selector in braces/],
      [['--thread-cap', 'many'], /--thread-cap: expected a whole number, got 'many'/],
      [['--by', 'pod-name'], /--by: 'pod-name' is not a label name/],
      [['--out', join(dir, 'missing', 'r.yml')], /--out .*: cannot write \(ENOENT\)/],
    ] as const) {
      const e = captureIo();
      assert.equal(await main(['rules', ...args], e.io), 2, args.join(' '));
      assert.match(e.err(), message);
    }
  });
});
