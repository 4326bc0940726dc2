/**
 * `leakscope run` checks every option before it makes a run folder or spawns a server, and a
 * scenario's name becomes a safe file name: a run folder never lands outside `runs/`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { main } from '../../cli/main.js';
import type { LsError } from '../../common/errors.js';
import { runScenario } from '../../scenarios/runner.js';
import { captureIo } from '../helpers/capture-io.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const EXT = ['--target', 'grpc://127.0.0.1:1'];

/** Bad flags of `run shuffled-input`, each with what the message must say. */
const BAD: readonly (readonly [readonly string[], RegExp])[] = [
  [['--fixes', 'sort-inputs,bogus'], /--fixes: unknown fix "bogus"/],
  [['--mode', 'half'], /--mode: expected leaky or patched, got "half"/],
  [['--mode', 'leaky', '--fixes', 'sort-inputs'], /--fixes cannot be combined with --mode leaky/],
  [['--mode', 'leaky', ...EXT], /--mode chooses a spawned reference server and cannot be combined with --target/],
  [['--target', 'ftp://127.0.0.1:1'], /--target: expected grpc:\/\/host:port or http:\/\/host:port, got "ftp/],
  [
    ['--target', 'grpc://127.0.0.1:1/extra'],
    /--target: expected grpc:\/\/host:port, got 'grpc:\/\/127\.0\.0\.1:1\/extra'/,
  ],
  [[...EXT, '--http', '127.0.0.1:8501'], /--http: expected https\?:\/\/host:port, got '127\.0\.0\.1:8501'/],
  [['--inspect', 'nohost'], /--inspect: expected host:port, got 'nohost'/],
  [['--inspect', '127.0.0.1:70000'], /--inspect: expected host:port, got '127\.0\.0\.1:70000'/],
  [[...EXT, '--prometheus', 'metrics'], /--prometheus: expected http:\/\/host:port\/path, got 'metrics'/],
  [[...EXT, '--pid', '999999999'], /process 999999999 does not exist/],
  [[...EXT, '--pid', 'abc'], /--pid: expected a process id, got "abc"/],
  [['--pid', '1'], /--pid\/--prometheus need a target to load/],
  [['--rate', '0'], /--rate: expected a number > 0, got "0"/],
  [['--requests=-1'], /--requests: expected an integer > 0, got "-1"/],
  [['--duration', 'fast'], /--duration: expected a number > 0, got "fast"/],
  [['--requests', '10', '--duration', '5'], /--requests and --duration both size the run; give one/],
  [['--interval', '1.5'], /--interval: expected an integer > 0/],
  [['--permutations', '0'], /--permutations: expected an integer > 0/],
  [['--transport', 'udp'], /--transport: expected one of grpc, rest, got "udp"/],
  [['--gc-settled=-1'], /--gc-settled: expected an integer ≥ 0/],
  [['--seed', '1.5'], /--seed: expected an integer, got "1\.5"/],
  [['--clinic', 'bogus'], /--clinic: expected doctor or heapprofiler, got 'bogus'/],
  [
    ['--clinic', 'doctor', ...EXT],
    /--clinic runs a spawned reference server under Clinic\.js; it cannot wrap an external target/,
  ],
  [['--no-such-flag'], /no-such-flag/],
];

test('every run option is checked before a run folder is made or a server spawned: exit 2 naming the option', async () => {
  await withTmpDir('leakscope-options-', async (tmp) => {
    for (const [i, [flags, message]] of BAD.entries()) {
      const out = join(tmp, `run-${i}`);
      const c = captureIo();
      const t0 = Date.now();
      const code = await main(['run', 'shuffled-input', ...flags, '--out', out], c.io);
      assert.equal(code, 2, `${flags.join(' ')}: exit ${code}\n${c.err()}`);
      assert.match(c.err(), message, flags.join(' '));
      assert.equal(existsSync(out), false, `${flags.join(' ')}: a run folder was made`);
      // A spawned server takes seconds to start; a refusal takes no time.
      assert.ok(Date.now() - t0 < 5000, `${flags.join(' ')}: took ${Date.now() - t0} ms`);
    }
    // An existing run is never written over.
    const used = join(tmp, 'used');
    await mkdir(used);
    await writeFile(join(used, 'manifest.json'), '{}');
    const c = captureIo();
    assert.equal(await main(['run', 'shuffled-input', '--out', used], c.io), 2);
    assert.match(c.err(), /--out .*used: the folder exists and is not empty; a run never overwrites another/);
    assert.deepEqual(readdirSync(used), ['manifest.json']);
  });
});

test("a scenario named '../../../x' runs in runs/x-…: the name is made a safe file name, and the run says so", async () => {
  await withTmpDir('leakscope-names-', async (tmp) => {
    const file = join(tmp, 'evil.json');
    await writeFile(file, JSON.stringify({ name: '../../../x', phases: [{ name: 'one', requests: 5, rate: 5 }] }));
    const runsRoot = join(tmp, 'a', 'b', 'c', 'runs');
    const events: string[] = [];
    // An unreachable external target: the folder is made, the run fails fast.
    await assert.rejects(
      runScenario({
        scenario: file,
        target: { kind: 'external', grpc: 'grpc://127.0.0.1:1' },
        runsRoot,
        onEvent: (l) => events.push(l),
      }),
      (e: LsError) => e.code === 'LS_ERR_TARGET',
    );
    const made = readdirSync(runsRoot);
    assert.equal(made.length, 1);
    assert.match(made[0]!, /^x-external-\d{8}T\d{6}$/);
    assert.deepEqual(readdirSync(join(tmp, 'a', 'b', 'c')), ['runs'], 'nothing beside runs/');
    assert.deepEqual(readdirSync(tmp).sort(), ['a', 'evil.json']);
    assert.ok(
      events.some((l) => l === `run name: scenario name "../../../x" is not a safe file name; the run is named 'x'`),
      events.join('\n'),
    );
  });
});

test("the library checks a spawned server's fixes too: sort-inputs,bogus is refused before a folder is made or a server spawned", async () => {
  await withTmpDir('leakscope-fixes-', async (tmp) => {
    const file = join(tmp, 's.json');
    await writeFile(file, JSON.stringify({ name: 's', phases: [{ name: 'one', requests: 5, rate: 5 }] }));
    const runsRoot = join(tmp, 'runs');
    await assert.rejects(
      runScenario({ scenario: file, target: { kind: 'spawn', fixes: 'sort-inputs,bogus' }, runsRoot }),
      (e: LsError) => e.code === 'LS_ERR_INVALID_OPTION' && /--fixes/.test(e.message) && /bogus/.test(e.message),
    );
    await assert.rejects(
      runScenario({ scenario: file, target: { kind: 'spawn', mode: 'leakyish' as 'leaky' }, runsRoot }),
      (e: LsError) => e.code === 'LS_ERR_INVALID_OPTION' && /--mode/.test(e.message),
    );
    assert.equal(existsSync(runsRoot), false, 'no run folder: refused before the folder (and so before any spawn)');
  });
});
