/**
 * A quiet install that downloads nothing from outside the registry: every dependency with an
 * install script is reviewed in package.json's `allowScripts` (npm 11), the project's npm
 * settings are ones npm knows (no "Unknown project config" warning before every command), and
 * unreviewed scripts fail the install instead of running.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { packageRoot } from '../../common/package-root.js';

const run = promisify(execFile);
const root = packageRoot();
const npm = (...args: string[]) => run('npm', args, { cwd: root, timeout: 60_000, encoding: 'utf8' });

interface LockEntry {
  readonly version?: string;
  readonly hasInstallScript?: boolean;
  readonly link?: boolean;
}

/** `pkg` or `pkg@1.2.3 || 1.2.4` → name and exact versions (none = any version). */
function policyKey(key: string): { name: string; versions: string[] } {
  const at = key.indexOf('@', 1);
  if (at < 0) return { name: key, versions: [] };
  return {
    name: key.slice(0, at),
    versions: key
      .slice(at + 1)
      .split('||')
      .map((v) => v.trim()),
  };
}

const covers = (key: string, name: string, version: string | undefined): boolean => {
  const k = policyKey(key);
  return k.name === name && (k.versions.length === 0 || (version !== undefined && k.versions.includes(version)));
};

test('every locked package with an install script has an allowScripts entry, and every entry still matches one', () => {
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
    allowScripts?: Record<string, boolean>;
  };
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, LockEntry>;
  };
  const policy = Object.entries(pkg.allowScripts ?? {});
  for (const [key, value] of policy)
    assert.equal(typeof value, 'boolean', `allowScripts["${key}"] must be true or false`);
  const withScripts = Object.entries(lock.packages)
    .filter(([path, e]) => path !== '' && e.hasInstallScript && !e.link)
    .map(([path, e]) => ({
      name: path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length),
      version: e.version,
    }));
  assert.ok(withScripts.length > 0, 'the lockfile marks no package with hasInstallScript: is it the right file?');
  const unreviewed = withScripts.filter((p) => !policy.some(([key]) => covers(key, p.name, p.version)));
  assert.deepEqual(
    unreviewed.map((p) => `${p.name}@${p.version}`),
    [],
    'install scripts not reviewed in package.json allowScripts (`npm install-scripts deny|approve <pkg>`)',
  );
  const stale = policy.filter(([key]) => !withScripts.some((p) => covers(key, p.name, p.version))).map(([k]) => k);
  assert.deepEqual(
    stale,
    [],
    'allowScripts entries matching no locked package with an install script (`npm install-scripts prune`)',
  );
});

test("npm's own view of the installed tree: no unreviewed install scripts", async () => {
  const { stdout, stderr } = await npm('install-scripts', 'ls', '--json');
  assert.equal(stderr, '');
  assert.deepEqual(JSON.parse(stdout), { allowScripts: [] });
});

test('the project npm settings are known to npm (no warnings) and unreviewed install scripts fail the install', async () => {
  const { stdout, stderr } = await npm('config', 'get', 'strict-allow-scripts');
  assert.equal(stderr, '', 'npm warns before every command');
  assert.equal(stdout.trim(), 'true');
});

test('`npx leakscope` prints nothing from npm before the CLI answers', async () => {
  const { stdout, stderr } = await run('npx', ['leakscope', '--version'], {
    cwd: root,
    timeout: 60_000,
    encoding: 'utf8',
  });
  assert.equal(stderr, '');
  assert.match(stdout, /^\d+\.\d+\.\d+\n$/);
});
