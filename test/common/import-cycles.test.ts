import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { packageRoot } from '../../common/package-root.js';

const FOLDERS = ['common', 'wire', 'cli', 'server', 'scenarios', 'analyzer', 'reports'];

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

test('the source tree has no import cycles', () => {
  const root = packageRoot();
  const files = FOLDERS.flatMap((f) => sources(join(root, f)));
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

test('data flows one way: the analyzer and reports never import the server or the scenarios', () => {
  const root = packageRoot();
  const offenders: string[] = [];
  for (const folder of ['analyzer', 'reports']) {
    for (const f of sources(join(root, folder))) {
      for (const i of importsOf(f)) {
        const rel = relative(root, i);
        if (rel.startsWith('server/') || rel.startsWith('scenarios/') || rel.startsWith('cli/'))
          offenders.push(`${relative(root, f)} imports ${rel}`);
      }
    }
  }
  assert.deepEqual(offenders, []);
});
