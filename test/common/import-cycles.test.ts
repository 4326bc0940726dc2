import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../../common/package-root.js';

/**
 * The layer table: which source folders each folder may import (besides itself). Data
 * flows one way: server ← scenarios (load and samples) → run directory → analyzer →
 * reports; pipeline orchestrates those stages; cli sits on top. A new folder is one row
 * here (and one entry in tsconfig.json's include, which a test below checks).
 */
const ANY = '*';
const LAYERS: Readonly<Record<string, readonly string[] | typeof ANY>> = {
  common: [],
  wire: ['common'],
  server: ['common', 'wire'],
  scenarios: ['common', 'wire'],
  analyzer: ['common'],
  reports: ['common', 'analyzer'],
  fleet: ['common', 'analyzer'],
  pipeline: ['common', 'wire', 'scenarios', 'analyzer', 'reports', 'fleet'],
  cli: ANY,
  test: ANY,
};

/** Folders whose code ships (`*` reaches these, never test/). */
const SOURCE_FOLDERS = Object.keys(LAYERS).filter((f) => f !== 'test');

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? sources(p) : p.endsWith('.ts') && !p.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative imports of a module (type-only imports included: they still couple modules). */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)[^'"]*?from\s+['"](\.[^'"]+)['"]/g))
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  for (const m of text.matchAll(/import\(\s*['"](\.[^'"]+)['"]\s*\)/g))
    out.push(resolve(dirname(file), m[1]!.replace(/\.js$/, '.ts')));
  return out;
}

const topFolder = (root: string, file: string): string => relative(root, file).split(/[\\/]/)[0]!;

test('every folder holding TypeScript has a row in the layer table and is compiled', () => {
  const root = packageRoot();
  const withTs = readdirSync(root).filter(
    (n) =>
      !n.startsWith('.') &&
      n !== 'node_modules' &&
      n !== 'dist' &&
      statSync(join(root, n)).isDirectory() &&
      sources(join(root, n)).length > 0,
  );
  const missing = withTs.filter((f) => !(f in LAYERS));
  assert.deepEqual(missing, [], `add a row to LAYERS in test/common/import-cycles.test.ts for: ${missing.join(', ')}`);
  const include = (JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as { include: string[] }).include;
  assert.deepEqual(
    Object.keys(LAYERS).filter((f) => !include.includes(f)),
    [],
    "tsconfig.json's include lacks a folder of the layer table",
  );
});

test('each folder imports only the folders its layer allows', () => {
  const root = packageRoot();
  const offenders: string[] = [];
  for (const [folder, allowed] of Object.entries(LAYERS)) {
    const may = allowed === ANY ? SOURCE_FOLDERS : allowed;
    for (const f of sources(join(root, folder))) {
      for (const i of importsOf(f)) {
        const to = topFolder(root, i);
        if (to !== folder && !may.includes(to))
          offenders.push(
            `${relative(root, f)} imports ${relative(root, i)} (${folder}/ may import ${may.length ? may.join(', ') : 'no other folder'})`,
          );
      }
    }
  }
  assert.deepEqual(offenders, []);
});

test('the source tree has no import cycles', () => {
  const root = packageRoot();
  const files = SOURCE_FOLDERS.flatMap((f) => sources(join(root, f)));
  assert.ok(files.length > 50);
  const graph = new Map(files.map((f) => [f, importsOf(f).filter((i) => files.includes(i))]));
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (f: string): void => {
    state.set(f, 'open');
    stack.push(f);
    for (const g of graph.get(f) ?? []) {
      if (state.get(g) === 'open')
        cycles.push([...stack.slice(stack.indexOf(g)), g].map((x) => relative(root, x)).join(' → '));
      else if (!state.has(g)) visit(g);
    }
    stack.pop();
    state.set(f, 'done');
  };
  for (const f of files) if (!state.has(f)) visit(f);
  assert.deepEqual(cycles, []);
});
