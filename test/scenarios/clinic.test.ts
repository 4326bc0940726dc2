import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { LsError } from '../../common/errors.js';
import { runScenario } from '../../scenarios/runner.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

/**
 * A stand-in for Clinic.js on PATH (Clinic itself is optional and not installed here): it
 * runs the command after `--`, forwards SIGINT, and writes an HTML report into --dest once
 * the program exits — the contract leakscope relies on.
 */
const FAKE_CLINIC = `#!${process.execPath}
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const args = process.argv.slice(2);
const tool = args[0];
const dest = args[args.indexOf('--dest') + 1];
const cmd = args.slice(args.indexOf('--') + 1);
fs.writeFileSync(dest + '.env', JSON.stringify({ NO_INSIGHT: process.env.NO_INSIGHT, tool }));
const child = spawn(cmd[0], cmd.slice(1), { stdio: 'inherit' });
process.on('SIGINT', () => child.kill('SIGINT'));
child.on('exit', (code) => {
  fs.mkdirSync(dest, { recursive: true });
  fs.writeFileSync(dest + '/' + child.pid + '.clinic-' + tool + '.html', '<html>clinic</html>');
  process.exit(code ?? 0);
});
`;

test('--clinic runs the spawned server under Clinic.js, telemetry off, and links its report; absent Clinic is a clear error', async () => {
  await withTmpDir('leakscope-clinic-', async (dir) => {
    const scenario = join(dir, 's.json');
    await writeFile(
      scenario,
      JSON.stringify({
        name: 'tiny',
        sampleIntervalMs: 100,
        phases: [{ name: 'steady', requests: 30, rate: 30, steady: true }],
      }),
    );
    const PATH = process.env.PATH;
    try {
      process.env.PATH = '/nonexistent';
      await assert.rejects(
        runScenario({ scenario, target: { kind: 'spawn', mode: 'patched' }, out: join(dir, 'none'), clinic: 'doctor' }),
        (e: LsError) => e.code === 'LS_ERR_INVALID_OPTION' && /Clinic\.js is not installed/.test(e.message),
      );
      const bin = join(dir, 'bin');
      await (await import('node:fs/promises')).mkdir(bin);
      await writeFile(join(bin, 'clinic'), FAKE_CLINIC);
      await chmod(join(bin, 'clinic'), 0o755);
      process.env.PATH = `${bin}:${PATH}`;
      await assert.rejects(
        runScenario({ scenario, target: { kind: 'spawn' }, out: join(dir, 'bad'), clinic: 'flame' }),
        /--clinic: expected doctor or heapprofiler/,
      );
      const out = await runScenario({
        scenario,
        target: { kind: 'spawn', mode: 'patched' },
        out: join(dir, 'run'),
        clinic: 'doctor',
      });
      assert.equal(out.manifest.status, 'complete', out.manifest.error);
      assert.match(out.manifest.artifacts?.clinic ?? '', /^clinic\/\d+\.clinic-doctor\.html$/);
      assert.equal(await readFile(join(out.dir, out.manifest.artifacts!.clinic!), 'utf8'), '<html>clinic</html>');
      assert.deepEqual(JSON.parse(await readFile(join(out.dir, 'clinic.env'), 'utf8')), {
        NO_INSIGHT: 'true',
        tool: 'doctor',
      });
      assert.equal(out.results[0]!.statusCounts.OK, 30);
      // The samples are of the server itself, not of the wrapper.
      assert.notEqual(out.manifest.target.kind === 'spawned' && out.manifest.target.pid, undefined);
    } finally {
      process.env.PATH = PATH;
    }
  });
});
