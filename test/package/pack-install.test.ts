/**
 * The package a service depends on: `npm pack`, then `npm install <tgz>` into a fresh project
 * with outside network refused (a loopback proxy lets through only the npm registry), then the
 * CLI and the library from that installed copy — the files it resolves at run time (proto/,
 * the built-in scenarios, chart.js, the handler-thread worker) included.
 *
 * Cost: one `npm install` of the production dependencies (from the npm cache when warm), about
 * 30 s on a loaded 2-core machine, plus a few seconds of commands.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../common/package-root.js';
import { spawnTarget } from '../helpers/spawn-target.js';
import { writeSyntheticRun } from '../helpers/synthetic-run.js';

const execFileP = promisify(execFile);
const root = packageRoot();

interface Refusals {
  readonly refused: string[];
  readonly allowed: string[];
}

/** An HTTP proxy on loopback that tunnels to `allowHost:443` only and records every other attempt. */
function filteringProxy(allowHost: string): Promise<{ server: Server; url: string; log: Refusals }> {
  const log: Refusals = { refused: [], allowed: [] };
  const server = createServer((req, res) => {
    log.refused.push(`${req.method} ${req.url}`);
    res.writeHead(403).end('leakscope test: outside network refused\n');
  });
  server.on('connect', (req, socket) => {
    const [host, port] = (req.url ?? '').split(':');
    if (host !== allowHost || port !== '443') {
      log.refused.push(`CONNECT ${req.url}`);
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    log.allowed.push(`CONNECT ${req.url}`);
    const upstream = connect(443, host, () => {
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      upstream.pipe(socket).pipe(upstream);
    });
    const close = () => {
      upstream.destroy();
      socket.destroy();
    };
    upstream.on('error', close);
    socket.on('error', close);
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address() as { port: number };
      resolve({ server, url: `http://127.0.0.1:${a.port}`, log });
    }),
  );
}

/** The environment without the parent npm's exported settings (this file may run under `npm test`). */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_/i.test(k) || /^(https?|no|all)_proxy$/i.test(k) || k.startsWith('GLOBAL_AGENT_')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

let tmp = '';
let consumer = '';
let env: NodeJS.ProcessEnv = {};
let proxy: Awaited<ReturnType<typeof filteringProxy>> | undefined;
let packed: { filename: string; files: { path: string }[] } | undefined;
let installError: Error | undefined;

const run = (file: string, args: string[], opts: { cwd?: string } = {}) =>
  execFileP(file, args, { cwd: opts.cwd ?? consumer, env, timeout: 120_000, encoding: 'utf8' });
const leakscope = (...args: string[]) =>
  run(process.execPath, [join(consumer, 'node_modules/.bin/leakscope'), ...args]);

before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'leakscope-pack-'));
  consumer = join(tmp, 'consumer');
  assert.ok(existsSync(join(root, 'dist/index.js')), 'dist/ is not built: run `npm run build` first (npm test does)');
  // npm test has just built dist/; --ignore-scripts packs it as is instead of a second build (prepack).
  const pack = await execFileP('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], {
    cwd: root,
    env: cleanEnv({}),
    encoding: 'utf8',
    timeout: 60_000,
  });
  packed = (JSON.parse(pack.stdout) as (typeof packed)[])[0];
  const registry = (
    await execFileP('npm', ['config', 'get', 'registry'], { cwd: tmp, env: cleanEnv({}), encoding: 'utf8' })
  ).stdout.trim();
  proxy = await filteringProxy(new URL(registry).hostname);
  env = cleanEnv({
    HTTPS_PROXY: proxy.url,
    HTTP_PROXY: proxy.url,
    GLOBAL_AGENT_HTTPS_PROXY: proxy.url,
    GLOBAL_AGENT_HTTP_PROXY: proxy.url,
    LEAKSCOPE_CACHE_DIR: join(tmp, 'cache'),
  });
  await execFileP('mkdir', [consumer]);
  // The consumer reviews the install scripts it inherits, as the README tells a service to.
  writeFileSync(
    join(consumer, 'package.json'),
    `${JSON.stringify(
      {
        name: 'consumer',
        version: '1.0.0',
        private: true,
        type: 'module',
        allowScripts: { 'onnxruntime-node': false, protobufjs: false },
      },
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(consumer, '.npmrc'), 'strict-allow-scripts=true\n');
  try {
    const r = await run('npm', ['install', join(tmp, packed!.filename), '--prefer-offline', '--no-audit', '--no-fund']);
    assert.equal(r.stderr, '', 'npm install printed warnings');
  } catch (e) {
    installError = e as Error;
  }
});

after(async () => {
  proxy?.server.close();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

test('the tarball ships the built code, the runtime files and no tests or sources', () => {
  const files = packed!.files.map((f) => f.path);
  for (const f of [
    'package.json',
    'README.md',
    'bin/leakscope.js',
    'dist/index.js',
    'dist/index.d.ts',
    'dist/cli/main.js',
    'dist/server/handler-thread-worker.js',
    'proto/onnx.proto',
    'proto/tensorflow_serving/apis/prediction_service.proto',
    'scenarios/builtin/shuffled-input.yaml',
    'docs/gate.md',
  ])
    assert.ok(files.includes(f), `${f} is not in the tarball`);
  const unwanted = files.filter(
    (f) => f.startsWith('dist/test/') || f.endsWith('.map') || (f.endsWith('.ts') && !f.endsWith('.d.ts')),
  );
  assert.deepEqual(unwanted, []);
});

test('npm install of the tarball runs no install script and reaches nothing but the registry', (t) => {
  assert.equal(installError, undefined, `npm install failed: ${installError?.message}`);
  assert.deepEqual(proxy!.log.refused, [], 'outside hosts were contacted during the install');
  assert.ok(existsSync(join(consumer, 'node_modules/leakscope/dist/index.js')));
  // onnxruntime-node's postinstall would have fetched these (CUDA) on linux/x64.
  const ortBin = join(consumer, 'node_modules/onnxruntime-node/bin/napi-v6/linux/x64');
  assert.ok(!existsSync(join(ortBin, 'libonnxruntime_providers_cuda.so')));
  t.diagnostic(`registry tunnels: ${proxy!.log.allowed.length} (0 when the npm cache had everything)`);
});

test('npx leakscope --help answers from the installed copy, without npm warnings', async (t) => {
  if (installError) return t.skip('install failed (see the install test)');
  const r = await run('npx', ['leakscope', '--help']);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /Usage: leakscope <command>/);
  assert.match(r.stdout, /heap summary/);
  assert.match(
    (await leakscope('run', '--help')).stdout,
    /built-in \(hot-reload, shuffled-input, soak, traffic-spike\)/,
  );
});

test('the installed CLI builds a model, serves it (handler threads) and analyses a heap snapshot', async (t) => {
  if (installError) return t.skip('install failed (see the install test)');
  const models = join(tmp, 'models');
  assert.match((await leakscope('models', 'build', '--out', models)).stdout, /model\.onnx/);
  const serveArgs = 'serve --port 0 --rest_api_port 0 --model_name ctr --model_base_path'.split(' ');
  const server = await spawnTarget([join(consumer, 'node_modules/.bin/leakscope'), ...serveArgs, models], {
    env,
    captureStderr: true,
  });
  try {
    // The CTR model's first ten features (wire/models/ctr-model.ts), one row each.
    const names = ['user_age', 'item_id', 'user_gender', 'item_category', 'hour_of_day', 'device_type'];
    names.push('user_city', 'item_price', 'ctr_7d', 'dwell_time');
    const features = Object.fromEntries(names.map((n) => [n, [[1]]]));
    const res = await fetch(`http://${server.rest}/v1/models/ctr:predict`, {
      method: 'POST',
      body: JSON.stringify({ inputs: features }),
    });
    const body = (await res.json()) as { outputs?: unknown; error?: string };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.ok(body.outputs !== undefined);
  } finally {
    await server.stop();
  }
  const snap = join(tmp, 'small.heapsnapshot');
  await run(process.execPath, ['-e', `require('v8').writeHeapSnapshot(${JSON.stringify(snap)})`]);
  const summary = JSON.parse(
    (await leakscope('heap', 'summary', snap, '--top', '3', '--objects', '0', '--json')).stdout,
  );
  assert.equal(summary.classes.length, 3);
});

test('the installed CLI gates and reports a run; the library does the same from an import', async (t) => {
  if (installError) return t.skip('install failed (see the install test)');
  const runDir = join(tmp, 'runs/leaky');
  await writeSyntheticRun(runDir, { mode: 'leaky', intervalMs: 1000 });
  await assert.rejects(leakscope('gate', runDir, '--junit', join(tmp, 'gate.xml')), (e: { code?: number }) => {
    assert.equal(e.code, 1, 'gate on a leaking run exits 1');
    return true;
  });
  assert.match(readFileSync(join(tmp, 'gate.xml'), 'utf8'), /<testsuite/);
  await leakscope('report', runDir, '--out', join(tmp, 'report'), '--no-png');
  assert.match(readFileSync(join(tmp, 'report/index.html'), 'utf8'), /Chart\.js v\d/);

  const script = join(consumer, 'use-library.mjs');
  writeFileSync(
    script,
    `import { gateRun, analyzeRun, builtinScenarios, VERSION, LsError } from 'leakscope';
const { result } = await gateRun(${JSON.stringify(runDir)}, { write: false });
const { analysis } = await analyzeRun(${JSON.stringify(runDir)}, { write: false });
let code;
try { await gateRun(${JSON.stringify(join(tmp, 'no-such-run'))}); } catch (e) { code = e instanceof LsError ? e.code : String(e); }
console.log(JSON.stringify({ pass: result.pass, verdict: analysis.overall.verdict, scenarios: builtinScenarios(), VERSION, code }));
`,
  );
  const out = JSON.parse((await run(process.execPath, [script])).stdout);
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  assert.deepEqual(out, {
    pass: false,
    verdict: 'LEAK',
    scenarios: ['hot-reload', 'shuffled-input', 'soak', 'traffic-spike'],
    VERSION: pkg.version,
    code: 'LS_ERR_BAD_RUN',
  });
});

test('the installed typings check a TypeScript consumer, and reject a wrong use', async (t) => {
  if (installError) return t.skip('install failed (see the install test)');
  writeFileSync(
    join(consumer, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        skipLibCheck: true,
        types: ['node'],
        typeRoots: [join(root, 'node_modules/@types')],
      },
      files: ['consumer.ts'],
    }),
  );
  // One compiler run checks both: a wrong use that compiled would leave the directive unused, an error.
  writeFileSync(
    join(consumer, 'consumer.ts'),
    `import { gateRun, heapSummary, type GateResult, type HeapSummary } from 'leakscope';
const r: GateResult = (await gateRun('runs/x')).result;
const s: HeapSummary = await heapSummary('x.heapsnapshot', { top: 3 });
console.log(r.pass, s.classes[0]?.retainedSize);
// @ts-expect-error top is a number
await heapSummary('x.heapsnapshot', { top: 'three' });
`,
  );
  const r = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']).catch(
    (e: { stdout?: string }) => ({ stdout: e.stdout ?? String(e), failed: true }),
  );
  assert.ok(!('failed' in r), `tsc: ${r.stdout}`);
});
