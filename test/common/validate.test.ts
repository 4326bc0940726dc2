import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBudget } from '../../analyzer/budget.js';
import { main } from '../../cli/main.js';
import { type ErrorCode, LsError } from '../../common/errors.js';
import { MODES, modeSchema } from '../../common/mode.js';
import { fields, number, numeric, oneOf, v, validate } from '../../common/validate.js';
import { parseScenario } from '../../scenarios/scenario.js';
import { planArrivals } from '../../scenarios/schedule.js';
import { resolveFixes } from '../../common/fixes.js';
import { validateServerOptions } from '../../server/options.js';
import { captureIo } from '../helpers/capture-io.js';

/** Asserts that `f` throws an LsError with this code whose message matches every pattern. */
function refuses(f: () => unknown, code: ErrorCode, ...patterns: RegExp[]): void {
  assert.throws(f, (e: unknown) => {
    assert.ok(e instanceof LsError, `expected an LsError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    for (const p of patterns) assert.match(e.message, p);
    return true;
  });
}

test('validate: paths, expected and got in one message; output deep-frozen; input untouched', () => {
  const schema = fields({
    name: v.string(),
    phases: v.array(fields({ rate: number({ min: 1 }), order: v.optional(oneOf(['a', 'b']), 'a') })),
  });
  const input = { name: 'x', phases: [{ rate: 2 }, { rate: 3, order: 'b' }] };
  const out = validate(schema, input, { code: 'LS_ERR_BAD_SCENARIO' });
  assert.deepEqual(out, {
    name: 'x',
    phases: [
      { rate: 2, order: 'a' },
      { rate: 3, order: 'b' },
    ],
  });
  assert.ok(Object.isFrozen(out) && Object.isFrozen(out.phases) && Object.isFrozen(out.phases[1]));
  assert.ok(!Object.isFrozen(input.phases[0]));
  refuses(
    () =>
      validate(
        schema,
        { name: 'x', phases: [{ rate: 2 }, { rate: 'fast' }, { rate: 0, order: 'c' }] },
        {
          code: 'LS_ERR_BAD_SCENARIO',
          source: 'f.yaml',
        },
      ),
    'LS_ERR_BAD_SCENARIO',
    /^f\.yaml: phases\[1\]\.rate: expected a number ≥ 1, got "fast"; phases\[2\]\.rate: expected a number ≥ 1, got 0; phases\[2\]\.order: expected one of a, b, got "c"$/,
  );
  refuses(
    () => validate(schema, { name: 'x', phases: [], extra: 1 }, { code: 'LS_ERR_BAD_FILE' }),
    'LS_ERR_BAD_FILE',
    /^extra: unknown field \(allowed: name, phases\)$/,
  );
  refuses(
    () => validate(schema, { phases: [] }, { code: 'LS_ERR_BAD_FILE' }),
    'LS_ERR_BAD_FILE',
    /^name: is required$/,
  );
  refuses(() => validate(schema, 'x', { code: 'LS_ERR_BAD_FILE' }), 'LS_ERR_BAD_FILE', /^expected an object, got "x"$/);
  // Text from the command line: numbers may come as strings; blanks and junk are refused.
  const port = numeric({ min: 0, max: 65535, integer: true });
  assert.equal(validate(port, '8500', { code: 'LS_ERR_INVALID_OPTION' }), 8500);
  for (const bad of ['', ' ', '80.5', '0x', '-1', '70000', true])
    refuses(
      () => validate(port, bad, { code: 'LS_ERR_INVALID_OPTION', name: () => '--port' }),
      'LS_ERR_INVALID_OPTION',
      /^--port: expected an integer from 0 to 65535, got /,
    );
});

test('one Mode: leaky or patched, the same message from every reader', () => {
  assert.deepEqual(MODES, ['leaky', 'patched']);
  assert.equal(validate(modeSchema, 'leaky', { code: 'LS_ERR_INVALID_OPTION' }), 'leaky');
  const msg = /--mode: expected leaky or patched, got "half"/;
  refuses(() => resolveFixes('half'), 'LS_ERR_INVALID_OPTION', msg);
  refuses(() => validateServerOptions({ mode: 'half' }), 'LS_ERR_INVALID_OPTION', msg);
  assert.deepEqual([...resolveFixes('leaky').fixes], []);
  assert.equal(resolveFixes('patched').fixes.size, 4);
  assert.deepEqual([...resolveFixes(undefined, ' sort-inputs, thread-cap ').fixes], ['sort-inputs', 'thread-cap']);
  refuses(
    () => resolveFixes(undefined, 'sort-inputs,magic'),
    'LS_ERR_INVALID_OPTION',
    /--fixes: unknown fix "magic" \(known: sort-inputs, no-unsorted-insert, bounded-cache, thread-cap\)/,
  );
});

test('server options: wrong type, range, and the flag named as the user spells it', () => {
  const o = validateServerOptions({ port: '0', rest_api_port: 0, model_delay_ms: '2.5', log_level: 'warn' });
  assert.equal(o.grpcPort, 0);
  assert.equal(o.restPort, 0);
  assert.equal(o.modelDelayMs, 2.5);
  assert.equal(o.maxMessageBytes, 4 * 1024 * 1024);
  assert.ok(Object.isFrozen(o));
  refuses(
    () => validateServerOptions({ port: 'eighty' }),
    'LS_ERR_INVALID_OPTION',
    /^--port: expected an integer from 0 to 65535, got "eighty"$/,
  );
  refuses(
    () => validateServerOptions({ grpc_max_threads: '0' }),
    'LS_ERR_INVALID_OPTION',
    /--grpc_max_threads: expected an integer from 1 to 100000, got "0"/,
  );
  refuses(
    () => validateServerOptions({ idle_thread_grace_ms: -5 }),
    'LS_ERR_INVALID_OPTION',
    /--idle-thread-grace-ms: expected a number from 0 to 3600000, got -5/,
  );
  refuses(
    () => validateServerOptions({ max_booting_threads: '0' }),
    'LS_ERR_INVALID_OPTION',
    /--max-booting-threads: expected an integer from 1 to 10000, got "0"/,
  );
  refuses(
    () => validateServerOptions({ log_level: 'loud' }),
    'LS_ERR_INVALID_OPTION',
    /--log-level: expected one of fatal, error, warn, info, debug, trace, silent, got "loud"/,
  );
  refuses(
    () => validateServerOptions({ model_name: 'a b', model_base_path: '/m' }),
    'LS_ERR_INVALID_OPTION',
    /--model_name: expected a model name \(letters, digits, _ \. -\), got "a b"/,
  );
  refuses(
    () => validateServerOptions({ diagnostics: 'yes' as never }),
    'LS_ERR_INVALID_OPTION',
    /--diagnostics: expected true or false, got "yes"/,
  );
});

const scenario = (phase: Record<string, unknown>, top: Record<string, unknown> = {}) =>
  parseScenario({ name: 's', phases: [{ name: 'p', rate: 5, requests: 10, ...phase }], ...top }, 's.yaml', '/tmp');

test('scenario files: wrong type, unknown field, range, and the rules between fields', () => {
  const ok = scenario({ transport: 'http', http: { path: '/x', method: 'get' } });
  assert.deepEqual(ok.phases[0], {
    name: 'p',
    rate: 5,
    requests: 10,
    arrivals: 'uniform',
    maxInflight: 64,
    transport: 'http',
    order: 'fixed',
    batch: 1,
    steady: false,
    http: { path: '/x', method: 'GET', headers: {} },
  });
  assert.equal(ok.sampleIntervalMs, 250);
  assert.equal(ok.baseDir, '/tmp');
  assert.ok(Object.isFrozen(ok.phases[0]!.http));
  const bad = (f: () => unknown, re: RegExp) => refuses(f, 'LS_ERR_BAD_SCENARIO', /^s\.yaml: /, re);
  bad(() => scenario({ rateTo: 'fast' }), /phases\[0\]\.rateTo: expected a number from 0\.1 to 1000000, got "fast"/);
  bad(() => scenario({ rat: 5 }), /phases\[0\]\.rat: unknown field \(allowed: name, requests, durationS, rate,/);
  bad(() => scenario({ maxInflight: 0 }), /phases\[0\]\.maxInflight: expected an integer from 1 to 100000, got 0/);
  bad(() => scenario({ steady: 'yes' }), /phases\[0\]\.steady: expected true or false, got "yes"/);
  bad(() => scenario({ durationS: 3 }), /phases\[0\]: give exactly one of 'requests' or 'durationS'/);
  bad(() => scenario({ order: 'permutations' }), /phases\[0\]\.permutations: is required with order: permutations/);
  bad(() => scenario({ transport: 'grpc-generic' }), /phases\[0\]\.grpc: is required with transport: grpc-generic/);
  bad(() => scenario({ snapshots: 3 }), /phases\[0\]\.snapshots: needs snapshot: LABEL beside it/);
  bad(
    () => scenario({ snapshot: 'steady', snapshots: 0 }),
    /phases\[0\]\.snapshots: expected an integer from 1 to 20, got 0/,
  );
  assert.equal(scenario({ snapshot: 'steady', snapshots: 3 }).phases[0]!.snapshots, 3);
  bad(
    () => scenario({ transport: 'http', http: { path: 'x' } }),
    /phases\[0\]\.http\.path: expected a path starting with \/, got "x"/,
  );
  bad(
    () => scenario({ transport: 'http', http: { path: '/x', headers: { a: 1 } } }),
    /phases\[0\]\.http\.headers\.a: expected a string, got 1/,
  );
  bad(() => scenario({}, { sampleIntervalMs: 5 }), /sampleIntervalMs: expected an integer from 20 to 60000, got 5/);
  bad(
    () => scenario({}, { target: { grpcMaxThread: 4 } }),
    /target\.grpcMaxThread: unknown field \(allowed: modelDelayMs, grpcMaxThreads, pollWaitSeconds\)/,
  );
  bad(() => scenario({}, { phases: [] }), /phases: expected a non-empty list of phases, got \[\]/);
  bad(
    () =>
      parseScenario(
        {
          name: 's',
          phases: [
            { name: 'p', rate: 1, requests: 1 },
            { name: 'p', rate: 1, requests: 1 },
          ],
        },
        's.yaml',
        '/',
      ),
    /phases: phase "p" appears twice/,
  );
});

test('arrival schedules: wrong type, range and kind, named under the phase', () => {
  const bad = (f: () => unknown, re: RegExp) => refuses(f, 'LS_ERR_BAD_SCENARIO', re);
  bad(
    () => planArrivals({ kind: 'constant', rate: 'fast' as never, durationS: 1 }, { where: 'phases[2]' }),
    /^phases\[2\]\.rate: expected a number > 0, got "fast"$/,
  );
  bad(
    () => planArrivals({ kind: 'ramp', fromRate: 1, toRate: 2, durationS: -1 }, { where: 'phases[0]' }),
    /^phases\[0\]\.durationS: expected a number ≥ 0, got -1$/,
  );
  bad(
    () => planArrivals({ kind: 'constant', rate: 1, requests: 2.5 }),
    /^load\.requests: expected an integer ≥ 0, got 2\.5$/,
  );
  bad(() => planArrivals({ kind: 'wave' } as never), /^load\.kind: expected constant, ramp or spike, got "wave"$/);
  bad(
    () => planArrivals({ kind: 'constant', rate: 1 }),
    /^load\.durationS: or requests is required for a constant rate$/,
  );
  bad(
    () => planArrivals({ kind: 'constant', rate: 1, durationS: 1 }, { arrivals: 'bursty' as never }),
    /^load\.arrivals: expected one of uniform, poisson, got "bursty"$/,
  );
});

test('budgets: wrong type, unknown field, range, named with the file', () => {
  const bad = (raw: unknown, re: RegExp) =>
    refuses(() => parseBudget(raw, 'b.json'), 'LS_ERR_BAD_FILE', /^b\.json: /, re);
  bad({ threads: { maxPeak: 'many' } }, /threads\.maxPeak: expected a number ≥ 0, got "many"/);
  bad(
    { phases: { steady: { maxP99: 5 } } },
    /phases\.steady\.maxP99: unknown field \(allowed: maxErrorRate, excludeStatuses, maxDroppedRate, maxP99Ms\)/,
  );
  bad(
    { phases: { steady: { maxDroppedRate: 1.5 } } },
    /phases\.steady\.maxDroppedRate: expected a number from 0 to 1, got 1\.5/,
  );
});

test('run flags: wrong type, range and choices exit 2 naming the flag, before anything starts', async () => {
  const cases: [string[], RegExp][] = [
    [['--rate', 'fast'], /--rate: expected a number > 0, got "fast"/],
    [['--requests', '2.5'], /--requests: expected an integer > 0, got "2\.5"/],
    [['--interval', '0'], /--interval: expected an integer > 0, got "0"/],
    [['--mode', 'half'], /--mode: expected leaky or patched, got "half"/],
    [['--transport', 'udp'], /--transport: expected one of grpc, rest, got "udp"/],
    [['--gc-settled=-1'], /--gc-settled: expected an integer ≥ 0, got "-1"/],
    [['--seed', 'x'], /--seed: expected an integer, got "x"/],
    [['--target', 'ftp://h:1'], /--target: expected grpc:\/\/host:port or http:\/\/host:port, got "ftp:\/\/h:1"/],
    [['--target', 'grpc://127.0.0.1:1', '--pid=-3'], /--pid: expected a process id, got "-3"/],
  ];
  for (const [flags, re] of cases) {
    const c = captureIo();
    assert.equal(await main(['run', 'soak', ...flags], c.io), 2, flags.join(' '));
    assert.match(c.err(), re);
  }
  const c = captureIo();
  assert.equal(await main(['compare', 'soak', '--duration', 'long'], c.io), 2);
  assert.match(c.err(), /--duration: expected a number > 0, got "long"/);
});

test('heap and models flags: the same mechanism, the same messages', async () => {
  const cases: [string[], RegExp][] = [
    [['heap', 'summary', 'x.heapsnapshot', '--top', '0'], /--top: expected an integer ≥ 1, got "0"/],
    [['heap', 'summary', 'x.heapsnapshot', '--objects', 'all'], /--objects: expected an integer ≥ 0, got "all"/],
    [['heap', 'diff', 'a', 'b', '--top', '2.5'], /--top: expected an integer ≥ 1, got "2\.5"/],
    [
      ['models', 'build', '--out', 'unused', '--features', 'ten'],
      /--features: expected an integer from 1 to \d+, got "ten"/,
    ],
    [
      ['models', 'build', '--out', 'unused', '--versions', '1,x'],
      /--versions: expected a non-negative integer, got "x"/,
    ],
    [['models', 'build', '--out', 'unused', '--versions', '2,2'], /--versions: must not repeat a version, got \[2,2\]/],
  ];
  for (const [args, re] of cases) {
    const c = captureIo();
    assert.equal(await main(args, c.io), 2, args.join(' '));
    assert.match(c.err(), re);
  }
});
