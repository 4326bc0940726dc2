/**
 * The Clinic.js step's checks and failure modes: the report check against whole and broken
 * reports, a missing or unknown Clinic, a Clinic that leaves a cut-short report (what
 * Clinic 13 did before handler threads stopped inheriting its preloads) and one that never
 * finishes. The real Clinic.js is run in clinic-real.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readRun } from '../../analyzer/run-reader.js';
import type { LsError } from '../../common/errors.js';
import { checkClinicHtml, clinicCommand, findClinic } from '../../scenarios/clinic.js';
import { runScenario } from '../../scenarios/runner.js';
import { spawnReferenceServer } from '../../scenarios/targets.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/** A report shaped as Clinic.js 13 writes it: HTML, then its trailer with the hash of what precedes. */
function report(tool: 'doctor' | 'heap-profiler', data: string, o: { hash?: string } = {}): string {
  const body = `<!DOCTYPE html>\n<html lang="en">\n<head><title>Clinic</title></head>\n<body>\n<main></main>\n${data}\n<script>1</script>\n</body>\n</html>\n`;
  const hash = o.hash ?? createHash('sha512').update('clinic\n').update(body).digest('hex');
  return `${body}<!-- ${JSON.stringify({ tool, toolVersion: '11.0.0', hash })} -->\n`;
}
const DOCTOR_DATA = `<script type="application/json" id="clinic-data">${JSON.stringify({
  traceEvent: [],
  processStat: [{ timestamp: 1, delay: 0 }],
  analysis: { issues: {} },
})}</script>`;
const HEAP_DATA = `<script>},{}],3:[function(require,module,exports){\nmodule.exports={"appName":"Application","codeAreas":[],"data":{"id":1,"isRoot":true,"children":[]}}\n},{}]</script>`;

test('a whole Clinic.js report passes; cut short, changed, data missing or the wrong tool each fail, saying why', async () => {
  await withTmpDir('leakscope-clinic-html-', async (dir) => {
    const check = async (name: string, text: string, tool: 'doctor' | 'heapprofiler' = 'doctor') => {
      await writeFile(join(dir, name), text);
      return checkClinicHtml(join(dir, name), tool);
    };
    const whole = report('doctor', DOCTOR_DATA);
    assert.deepEqual(await check('ok.html', whole), { ok: true, bytes: Buffer.byteLength(whole) });
    // Non-ASCII before the trailer: the hash is over bytes.
    const accents = report('doctor', `<p>Détection — µs</p>${DOCTOR_DATA}`);
    assert.equal((await check('utf8.html', accents)).ok, true);
    assert.equal((await check('heap.html', report('heap-profiler', HEAP_DATA), 'heapprofiler')).ok, true);

    const failures: [string, string, RegExp, ('doctor' | 'heapprofiler')?][] = [
      // The 228-byte report Clinic wrote when its data was broken: the page stops after its first lines.
      ['cut.html', whole.slice(0, 228), /\(228 bytes\): cut short: no trailer/],
      ['changed.html', whole.replace('<main></main>', '<main>x</main>'), /does not match the hash/],
      ['forged.html', report('doctor', DOCTOR_DATA, { hash: 'ab'.repeat(64) }), /does not match the hash/],
      ['nodata.html', report('doctor', '<div></div>'), /no embedded data \(script#clinic-data\)/],
      [
        'nostats.html',
        report('doctor', DOCTOR_DATA.replace('[{"timestamp":1,"delay":0}]', '[]')),
        /no process samples/,
      ],
      ['badjson.html', report('doctor', DOCTOR_DATA.replace('"analysis"', 'analysis')), /embedded data is not JSON/],
      ['tool.html', report('heap-profiler', HEAP_DATA), /names tool 'heap-profiler', not doctor/],
      [
        'noroot.html',
        report('heap-profiler', HEAP_DATA.replace('"isRoot":true', '"isRoot":false')),
        /no root/,
        'heapprofiler',
      ],
      ['notail.html', whole.replace(/<\/body>\n<\/html>\n/, ''), /does not match the hash/],
    ];
    for (const [name, text, reason, tool] of failures) {
      const r = await check(name, text, tool);
      assert.equal(r.ok, false, name);
      assert.match(r.ok ? '' : r.reason, reason, name);
    }
    const missing = checkClinicHtml(join(dir, 'none.html'), 'doctor');
    assert.equal(missing.ok, false);
    assert.match(missing.ok ? '' : missing.reason, /no HTML report at .*none\.html/);
  });
});

test('--clinic: an unknown tool, no Clinic.js anywhere and a LEAKSCOPE_CLINIC that does not exist are clear errors', () => {
  const nowhere = { clinic: '', roots: [], path: '/nonexistent' };
  assert.throws(
    () => clinicCommand('flame', '/tmp/x', nowhere),
    /--clinic: expected doctor or heapprofiler, got 'flame'/,
  );
  assert.equal(findClinic(nowhere), undefined);
  assert.throws(
    () => clinicCommand('doctor', '/tmp/x', nowhere),
    (e: LsError) => e.code === 'LS_ERR_INVALID_OPTION' && /Clinic\.js is not installed/.test(e.message),
  );
  assert.throws(
    () => clinicCommand('doctor', '/tmp/x', { clinic: '/nonexistent/clinic' }),
    /LEAKSCOPE_CLINIC names \/nonexistent\/clinic, which does not exist/,
  );
});

/**
 * A stand-in for Clinic.js: runs the command after `--` (stdin ignored, as Heap Profiler does),
 * and once it exits writes a report into --dest as told by STANDIN_REPORT: `cut` (the first
 * 228 bytes), or `never` (it never exits: a hung analysis).
 */
const STANDIN = `#!${process.execPath}
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const args = process.argv.slice(2);
const tool = args[0];
const dest = args[args.indexOf('--dest') + 1];
const cmd = args.slice(args.indexOf('--') + 1);
fs.writeFileSync(dest + '/standin.json', JSON.stringify({ NO_INSIGHT: process.env.NO_INSIGHT, tool, cwd: process.cwd() }));
const child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'inherit', 'inherit'] });
process.on('SIGINT', () => {});
child.on('exit', () => {
  if (process.env.STANDIN_REPORT === 'never') return setInterval(() => {}, 1000);
  fs.writeFileSync(dest + '/' + child.pid + '.clinic-' + tool + '.html', '<!DOCTYPE html>\\n<html lang="en">\\n<head>\\n' + 'x'.repeat(200));
  console.error('standin: analysis failed');
  process.exit(0);
});
`;

test('--clinic heapprofiler turns leakscope allocation sampling off by default, and refuses it when asked for: one V8 sampling profiler', async () => {
  await withTmpDir('leakscope-clinic-', async (dir) => {
    const scenario = join(dir, 's.json');
    await writeFile(
      scenario,
      JSON.stringify({ name: 'tiny', phases: [{ name: 'steady', requests: 20, rate: 20, steady: true }] }),
    );
    await assert.rejects(
      runScenario({
        scenario,
        target: { kind: 'spawn', mode: 'patched' },
        out: join(dir, 'run'),
        clinic: 'heapprofiler',
        allocationSampling: true,
      }),
      (e: LsError) =>
        e.code === 'LS_ERR_INVALID_OPTION' &&
        /--allocation-sampling cannot run with --clinic heapprofiler/.test(e.message),
    );
    assert.equal(existsSync(join(dir, 'run')), false, 'refused before a folder was made');
  });
});

test('a Clinic.js that leaves a cut-short report: the run completes, warns, records clinic.status failed and links nothing', async () => {
  await withTmpDir('leakscope-clinic-', async (dir) => {
    const bin = join(dir, 'clinic');
    await writeFile(bin, STANDIN);
    await chmod(bin, 0o755);
    const scenario = join(dir, 's.json');
    await writeFile(
      scenario,
      JSON.stringify({
        name: 'tiny',
        sampleIntervalMs: 100,
        phases: [{ name: 'steady', requests: 20, rate: 20, steady: true }],
      }),
    );
    const env = { LEAKSCOPE_CLINIC: process.env.LEAKSCOPE_CLINIC, STANDIN_REPORT: process.env.STANDIN_REPORT };
    process.env.LEAKSCOPE_CLINIC = bin;
    process.env.STANDIN_REPORT = 'cut';
    const events: string[] = [];
    try {
      const out = await runScenario({
        scenario,
        target: { kind: 'spawn', mode: 'patched' },
        out: join(dir, 'run'),
        clinic: 'doctor',
        onEvent: (l) => events.push(l),
      });
      assert.equal(out.manifest.status, 'complete', out.manifest.error);
      // The load is not what is tested (a loaded machine may time some Predicts out): it ran.
      assert.equal(out.results[0]!.sent + out.results[0]!.dropped, 20);
      assert.equal(out.manifest.artifacts?.clinic, undefined, 'a broken report is not linked');
      const c = out.manifest.clinic!;
      assert.equal(c.status, 'failed');
      assert.equal(c.tool, 'doctor');
      assert.match(c.html ?? '', /^clinic\/\d+\.clinic-doctor\.html$/);
      assert.match(c.error ?? '', /cut short: no trailer.*standin: analysis failed/);
      assert.ok(
        events.some((l) => /^WARNING: the Clinic\.js doctor step failed/.test(l)),
        events.join('\n'),
      );
      // Telemetry off; Clinic works in the run's clinic/ folder (Doctor's node_trace.*.log go there).
      const standin = JSON.parse(await readFile(join(out.dir, 'clinic', 'standin.json'), 'utf8'));
      assert.deepEqual(standin, { NO_INSIGHT: 'true', tool: 'doctor', cwd: join(out.dir, 'clinic') });
      // Read back from disk, as the analyzer and the reports would.
      const m = JSON.parse(await readFile(join(out.dir, 'manifest.json'), 'utf8'));
      assert.equal(m.clinic.status, 'failed');
      assert.ok(
        readRun(out.dir).warnings.some((w) =>
          /^the Clinic\.js doctor step failed, no report is linked: .*cut short/.test(w),
        ),
      );
    } finally {
      for (const [k, v] of Object.entries(env))
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
    }
  });
});

test('a Clinic.js that never finishes: stop() gives up after its bound, kills it and the server, and says so', async () => {
  await withTmpDir('leakscope-clinic-hang-', async (dir) => {
    const bin = join(dir, 'clinic');
    await writeFile(bin, STANDIN);
    await chmod(bin, 0o755);
    const t = await spawnReferenceServer({
      mode: 'patched',
      diagnosticsDir: join(dir, 'snaps'),
      wrapper: [bin, 'doctor', '--dest', dir, '--'],
      wrapperCwd: dir,
      wrapperStopTimeoutMs: 1500,
      env: { ...process.env, STANDIN_REPORT: 'never' },
    });
    const pid = t.pid!;
    await assert.rejects(
      t.stop(),
      (e: LsError) => e.code === 'LS_ERR_TARGET' && /did not exit within 1\.5 s of the server's SIGINT/.test(e.message),
    );
    assert.equal(t.alive(), false);
    // Killed; reaped by init once its parent (the stand-in) is gone too.
    for (let i = 0; i < 50 && existsSync(`/proc/${pid}`); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(existsSync(`/proc/${pid}`), false, 'the server is gone');
    assert.notEqual((await t.exited!).signal, null, 'the wrapper was killed');
  });
});
