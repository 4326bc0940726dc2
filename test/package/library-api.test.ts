/**
 * The library entry (`import … from 'leakscope'`, index.ts): importing it is cheap (the heavy
 * parts load on first call), and each function says which CLI command it equals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { packageRoot } from '../../common/package-root.js';

const root = packageRoot();

test('importing the library loads neither onnxruntime, gRPC, protobufjs nor the canvas binding', async () => {
  const probe = `import { createRequire } from 'node:module';
const api = await import(${JSON.stringify(pathToFileURL(join(root, 'dist/index.js')).href)});
const loaded = Object.keys(createRequire(import.meta.url).cache).filter((k) => /onnxruntime-node|@grpc|protobufjs|@napi-rs/.test(k));
console.log(JSON.stringify({ loaded, gateRun: typeof api.gateRun }));`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', probe], {
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.deepEqual(JSON.parse(stdout), { loaded: [], gateRun: 'function' });
});

test('each library function names the CLI command it equals and carries an example', () => {
  const text = readFileSync(join(root, 'index.ts'), 'utf8');
  const fns = [...text.matchAll(/\/\*\*((?:(?!\*\/)[\s\S])*)\*\/\s*export async function (\w+)/g)];
  assert.ok(fns.length >= 9, `found ${fns.length} documented functions`);
  const undocumented = [...text.matchAll(/export async function (\w+)/g)].length - fns.length;
  assert.equal(undocumented, 0, 'an exported function without a TSDoc comment');
  for (const [, doc, name] of fns) {
    assert.match(doc!, /`leakscope [a-z]/, `${name}: no CLI command named`);
    assert.match(doc!, /@example /, `${name}: no example`);
  }
});

test('the library entry sits beside the CLI: it imports no cli/ or test/ module, and no module imports it', () => {
  const specifiers = (text: string) =>
    [...text.matchAll(/(?:from\s+|import\s*\(?\s*)['"](\.[^'"]+)['"]/g)].map((m) => m[1]!);
  const own = specifiers(readFileSync(join(root, 'index.ts'), 'utf8'));
  assert.ok(own.length > 10);
  assert.deepEqual(
    own.filter((s) => /^\.\/(cli|test)\//.test(s)),
    [],
  );
  const entry = join(root, 'index.js');
  const folders = readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith('.') && d.name !== 'node_modules' && d.name !== 'dist')
    .map((d) => d.name);
  const importers = folders
    .flatMap((d) => readdirSync(join(root, d), { recursive: true, encoding: 'utf8' }).map((f) => join(root, d, f)))
    .filter((f) => f.endsWith('.ts'))
    .filter((f) => specifiers(readFileSync(f, 'utf8')).some((s) => resolve(dirname(f), s) === entry));
  assert.deepEqual(importers, []);
});
