import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readRun } from '../../analyzer/run-reader.js';
import { renderComparisonReport, renderRunReport } from '../../reports/html-report.js';
import { escapeHtml, html, inlineScriptText, jsonForScript, SafeHtml, trustedHtml } from '../../reports/html-escape.js';
import { PAYLOADS, syntheticAnalysis, writeSyntheticPair } from '../helpers/synthetic-run.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

test('escapeHtml escapes the five characters that matter in content and quoted attributes', () => {
  assert.equal(
    escapeHtml(`<a href="x" title='y'>&amp;</a>`),
    '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;',
  );
  assert.equal(escapeHtml('plain text, 100% ✓'), 'plain text, 100% ✓');
});

test('html escapes every interpolation unless it is SafeHtml; lists join; null/undefined/false vanish', () => {
  const name = '<script>x()</script>';
  const inner = html`<b>${name}</b>`;
  assert.ok(inner instanceof SafeHtml);
  assert.equal(inner.value, '<b>&lt;script&gt;x()&lt;/script&gt;</b>');
  assert.equal(
    html`<td title="${'" onmouseover="x'}">${inner}</td>`.value,
    '<td title="&quot; onmouseover=&quot;x"><b>&lt;script&gt;x()&lt;/script&gt;</b></td>',
  );
  assert.equal(
    html`<ul>${['<a>', html`<li>${'&'}</li>`, null, undefined, false, 0]}</ul>`.value,
    '<ul>&lt;a&gt;<li>&amp;</li>0</ul>',
  );
  // A plain string that looks like markup is still text: only html`` and trustedHtml make SafeHtml.
  assert.equal(html`${'<i>x</i>'}`.value, '&lt;i&gt;x&lt;/i&gt;');
  assert.equal(html`${trustedHtml('<i>x</i>')}`.value, '<i>x</i>');
});

test('jsonForScript: nothing can close the element, and JSON.parse gives the value back', () => {
  const value = {
    name: '</script><script>alert(1)</script>',
    c: '<!-- & -->',
    ls: 'a\u2028b\u2029c',
    nested: [PAYLOADS],
  };
  const out = jsonForScript(value).value;
  assert.doesNotMatch(out, /[<>&\u2028\u2029]/);
  assert.deepEqual(JSON.parse(out), value);
  assert.equal(jsonForScript(undefined).value, 'null');
});

test('inlineScriptText defuses </script and <!-- in third-party script text', () => {
  const out = inlineScriptText('var s = "</script><!--"; var t = "</SCRIPT>";').value;
  assert.doesNotMatch(out, /<\/script|<!--/i);
  assert.equal(new Function(`${out}; return s + t;`)(), '</script><!--</SCRIPT>');
});

test('reports of planted runs contain no planted markup outside escaped text', async () => {
  await withTmpDir('leakscope-report-escape-', async (dir) => {
    const { leaky, patched } = await writeSyntheticPair(dir, { plant: true, intervalMs: 1000 });
    const ra = readRun(leaky);
    const rb = readRun(patched);
    const pages = [
      renderRunReport(ra, syntheticAnalysis({ mode: 'leaky', plant: true })),
      renderRunReport(rb),
      renderComparisonReport(
        ra,
        syntheticAnalysis({ mode: 'leaky', plant: true }),
        rb,
        syntheticAnalysis({ mode: 'patched', plant: true }),
      ),
    ];
    for (const page of pages) {
      assert.equal((page.match(/<script/gi) ?? []).length, 3, 'chart data, Chart.js, start-up script');
      // Outside the inlined Chart.js, no planted tag, attribute or comment survives as markup.
      const own = page.replace(/<script>[\s\S]*?<\/script>/g, '');
      for (const p of PAYLOADS) assert.ok(!own.includes(p) || !/[<>"']/.test(p), `raw payload in page: ${p}`);
      assert.doesNotMatch(own, /<(img|iframe|svg)\b/i);
      assert.equal((own.match(/<style/gi) ?? []).length, 1, "only the report's own stylesheet");
      assert.match(own, /&lt;script&gt;window\.__pwned=1&lt;\/script&gt;/);
      assert.doesNotMatch(own, /href="javascript:/i, 'a javascript: artifact path is not a link');
    }
  });
});
