/**
 * A seeded, bounded fuzz over mutated run directories: one real small run (a patched
 * reference server, three snapshots), copied and mutated — samples truncated, garbled, cut to
 * the warm-up; manifest fields deleted, duplicated, given wrong types or huge numbers; phases
 * swapped; snapshots and files removed — and read by `gate`, `report` and the library's
 * analysis. Never a crash, a stack trace or a hang; exit 1, 2 or 3 (inconclusive: missing data
 * alone) with a message naming the file
 * (and the field, where one is at fault); never a PASS or a STABLE verdict on missing data.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { analyzeRun } from '../../analyzer/analyze-run.js';
import { readRun } from '../../analyzer/run-reader.js';
import { main } from '../../cli/main.js';
import { isLsError } from '../../common/errors.js';
import { mulberry32 } from '../../common/prng.js';
import { runScenario } from '../../scenarios/runner.js';
import { captureIo } from '../helpers/capture-io.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

type Json = Record<string, unknown>;

interface Mutation {
  readonly name: string;
  /** Whether the mutation removes data the checks need: the gate must then never pass, nor a verdict be STABLE. */
  readonly removesData: boolean;
  /** The gate must fail (the run's own status says it did not finish). */
  readonly failsGate?: boolean;
  /** Keep the snapshots (and analyse them): other mutations drop them to keep the fuzz fast. */
  readonly snapshots?: boolean;
  /** When reading must fail (exit 2): what the message must name. */
  readonly refused?: RegExp;
  readonly apply: (dir: string, rand: () => number) => void;
}

const file = (dir: string, f: string) => join(dir, f);
const readJson = (dir: string, f: string): Json => JSON.parse(readFileSync(file(dir, f), 'utf8'));
const writeJson = (dir: string, f: string, v: unknown) => writeFileSync(file(dir, f), JSON.stringify(v));
const sampleLines = (dir: string) => readFileSync(file(dir, 'samples.ndjson'), 'utf8').split('\n').filter(Boolean);
const writeLines = (dir: string, lines: string[]) =>
  writeFileSync(file(dir, 'samples.ndjson'), lines.length ? `${lines.join('\n')}\n` : '');
const pick = <T>(xs: readonly T[], rand: () => number): T => xs[Math.floor(rand() * xs.length)]!;
const editManifest = (dir: string, f: (m: Json) => void) => {
  const m = readJson(dir, 'manifest.json');
  f(m);
  writeJson(dir, 'manifest.json', m);
};
const editSample = (dir: string, rand: () => number, f: (s: Json) => void) => {
  const lines = sampleLines(dir);
  const i = Math.floor(rand() * lines.length);
  const s = JSON.parse(lines[i]!) as Json;
  f(s);
  lines[i] = JSON.stringify(s);
  writeLines(dir, lines);
};
const phasesOf = (m: Json) => m.phases as Json[];

const MUTATIONS: readonly Mutation[] = [
  {
    name: 'samples cut to the warm-up, manifest complete',
    removesData: true,
    apply: (d) =>
      writeLines(
        d,
        sampleLines(d).filter((l) => !/"phase":"(steady|more)"/.test(l)),
      ),
  },
  {
    name: 'samples.ndjson truncated mid-line in the steady phase',
    removesData: true,
    apply: (d, rand) => {
      const text = readFileSync(file(d, 'samples.ndjson'), 'utf8');
      const from = text.indexOf('"phase":"steady"');
      writeFileSync(file(d, 'samples.ndjson'), text.slice(0, from + Math.floor(rand() * 200)));
    },
  },
  {
    name: 'a garbage line in samples.ndjson',
    removesData: false,
    refused: /samples\.ndjson: line \d+ is not a valid sample/,
    apply: (d, rand) => {
      const lines = sampleLines(d);
      lines.splice(1 + Math.floor(rand() * (lines.length - 2)), 0, '{"t": 12, garbage');
      writeLines(d, lines);
    },
  },
  {
    name: 'a sample field of the wrong type',
    removesData: false,
    refused: /samples\.ndjson: line \d+: rssBytes: expected a number/,
    apply: (d, rand) => editSample(d, rand, (s) => (s.rssBytes = 'big')),
  },
  {
    name: 'a huge number in a sample',
    removesData: false,
    refused: /samples\.ndjson: line \d+: (rssBytes|requests|t): expected a number/,
    apply: (d, rand) => editSample(d, rand, (s) => (s[pick(['rssBytes', 'requests', 't'], rand)] = 1e300)),
  },
  {
    name: 'a negative time in a sample',
    removesData: false,
    refused: /samples\.ndjson: line \d+: t: expected a number from 0/,
    apply: (d, rand) => editSample(d, rand, (s) => (s.t = -5)),
  },
  {
    name: 'sample lines shuffled',
    removesData: false,
    apply: (d, rand) => {
      const lines = sampleLines(d);
      for (let i = lines.length - 1; i > 0; i--) {
        const j = Math.floor(rand() * (i + 1));
        [lines[i], lines[j]] = [lines[j]!, lines[i]!];
      }
      writeLines(d, lines);
    },
  },
  {
    name: 'samples.ndjson removed',
    removesData: true,
    refused: /samples\.ndjson: cannot read the samples \(ENOENT\)/,
    apply: (d) => rmSync(file(d, 'samples.ndjson')),
  },
  {
    name: 'samples.ndjson empty',
    removesData: true,
    apply: (d) => writeLines(d, []),
  },
  ...(['runId', 'scenario', 'target', 'phases', 'startedAt', 'status', 'sampleIntervalMs', 'format'] as const).map(
    (k): Mutation => ({
      name: `manifest field '${k}' deleted`,
      removesData: true,
      refused: k === 'format' ? /manifest\.json: run format undefined/ : new RegExp(`manifest\\.json: ${k}: `),
      apply: (d) => editManifest(d, (m) => delete m[k]),
    }),
  ),
  {
    name: 'manifest fields of the wrong type',
    removesData: false,
    refused: /manifest\.json: (phases|status|sampleIntervalMs|snapshots|target\.kind): expected/,
    apply: (d, rand) =>
      editManifest(d, (m) => {
        const k = pick(['phases', 'status', 'sampleIntervalMs', 'snapshots', 'target'], rand);
        m[k] = k === 'target' ? { kind: 42 } : k === 'sampleIntervalMs' ? '100' : 42;
      }),
  },
  {
    name: 'a phase duplicated',
    removesData: false,
    refused: /manifest\.json: phases\[\d\]\.name: phase '\w+' appears twice/,
    apply: (d, rand) => editManifest(d, (m) => phasesOf(m).push(pick(phasesOf(m), rand))),
  },
  {
    name: 'phases swapped',
    removesData: false,
    refused: /manifest\.json: phases\[\d\]\.startMs: .* phases are listed in the order they ran/,
    apply: (d) => editManifest(d, (m) => phasesOf(m).reverse()),
  },
  {
    name: 'a huge phase end',
    removesData: false,
    refused: /manifest\.json: phases\[\d\]\.endMs: expected a number from 0 to/,
    apply: (d, rand) => editManifest(d, (m) => (pick(phasesOf(m), rand).endMs = 1e300)),
  },
  {
    name: 'a phase that ends before it starts',
    removesData: false,
    refused: /manifest\.json: phases\[\d\]: ends \(endMs 1\) before it starts/,
    apply: (d) => editManifest(d, (m) => (phasesOf(m)[1]!.endMs = 1)),
  },
  {
    name: 'the steady phase stretched to ten times its length',
    removesData: true,
    apply: (d) =>
      editManifest(d, (m) => {
        const p = phasesOf(m).find((x) => x.steady)!;
        p.endMs = (p.startMs as number) + ((p.endMs as number) - (p.startMs as number)) * 10;
      }),
  },
  {
    name: 'the last steady phase removed from the manifest (the scenario still plans it)',
    removesData: true,
    apply: (d) => editManifest(d, (m) => phasesOf(m).pop()),
  },
  {
    name: 'a snapshot path leaving the run directory',
    removesData: false,
    snapshots: true,
    refused: /manifest\.json: snapshots\[\d\]\.file: expected a file path inside the run directory/,
    apply: (d, rand) => editManifest(d, (m) => (pick(m.snapshots as Json[], rand).file = '../../../../etc/passwd')),
  },
  {
    name: 'snapshot files removed',
    removesData: false,
    snapshots: true,
    apply: (d) => {
      for (const f of readdirSync(file(d, 'snapshots'))) rmSync(join(d, 'snapshots', f));
    },
  },
  {
    name: 'status running, runner long gone',
    removesData: false,
    failsGate: true,
    apply: (d) =>
      editManifest(d, (m) => {
        m.status = 'running';
        m.runner = { pid: 2 ** 31 - 1, hostname: 'elsewhere' };
      }),
  },
  {
    name: 'manifest.json cut in half',
    removesData: true,
    refused: /manifest\.json: the run manifest is not valid JSON/,
    apply: (d) => {
      const t = readFileSync(file(d, 'manifest.json'), 'utf8');
      writeFileSync(file(d, 'manifest.json'), t.slice(0, t.length >> 1));
    },
  },
  {
    name: 'manifest.json removed',
    removesData: true,
    refused: /manifest\.json: cannot read the run manifest \(ENOENT\)/,
    apply: (d) => rmSync(file(d, 'manifest.json')),
  },
  {
    name: 'results.json removed',
    removesData: true,
    apply: (d) => rmSync(file(d, 'results.json')),
  },
  {
    name: 'results.json with a count of the wrong type',
    removesData: false,
    refused: /results\.json: phases\[\d\]\.(completed|errors|statusCounts): expected/,
    apply: (d, rand) => {
      const r = readJson(d, 'results.json');
      const p = pick(r.phases as Json[], rand);
      p[pick(['completed', 'errors', 'statusCounts'], rand)] = 'many';
      writeJson(d, 'results.json', r);
    },
  },
  {
    name: 'results.json a list',
    removesData: true,
    refused: /results\.json: expected an object \{"phases": \[\.\.\.\]\}/,
    apply: (d) => writeJson(d, 'results.json', []),
  },
];

/** A stack trace's frame line: an internal error escaped. */
const STACK = /^\s+at .+\(.*:\d+:\d+\)$/m;

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const c = captureIo();
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(() => reject(new Error(`${args.join(' ')} hung`)), 60_000).unref(),
  );
  const code = await Promise.race([main(args, c.io), timeout]);
  return { code, out: c.out(), err: c.err() };
}

test('fuzz: gate, report and analysis over mutated copies of a real run — exit 1/2/3 naming file and field, never a crash, a hang or a PASS on missing data', {
  timeout: 600_000,
}, async () => {
  await withTmpDir('leakscope-fuzz-', async (tmp) => {
    const scenario = join(tmp, 'small.json');
    writeFileSync(
      scenario,
      JSON.stringify({
        name: 'small',
        sampleIntervalMs: 100,
        phases: [
          { name: 'warmup', requests: 60, rate: 100, snapshot: 'baseline' },
          { name: 'steady', requests: 300, rate: 100, steady: true, snapshot: 'target' },
          { name: 'more', requests: 150, rate: 100, steady: true, snapshot: 'final' },
        ],
      }),
    );
    const base = (await runScenario({ scenario, target: { kind: 'spawn', mode: 'patched' }, out: join(tmp, 'base') }))
      .dir;
    // Unmutated, the run is readable and has all its data: what the mutations take away is what is tested.
    const baseline = await cli(['gate', base, '--no-heap', '--json']);
    assert.ok(baseline.code === 0 || baseline.code === 1, baseline.err);
    const baseResult = JSON.parse(baseline.out) as { checks: { id: string; status: string }[] };
    assert.deepEqual(
      baseResult.checks.filter((c) => c.id.startsWith('run.data.')).map((c) => [c.id, c.status]),
      [
        ['run.data.steady', 'pass'],
        ['run.data.more', 'pass'],
      ],
    );
    rmSync(join(base, 'analysis.json'), { force: true });

    const rand = mulberry32(20261130);
    const rounds = 2;
    let refused = 0;
    for (let round = 0; round < rounds; round++) {
      for (const [i, mu] of MUTATIONS.entries()) {
        const dir = join(tmp, `m${round}-${i}`);
        cpSync(base, dir, { recursive: true });
        if (!mu.snapshots) {
          rmSync(join(dir, 'snapshots'), { recursive: true });
          editManifest(dir, (m) => (m.snapshots = []));
        }
        mu.apply(dir, rand);
        const what = `${mu.name} (round ${round})`;
        // gate: 1, 2 or 3, never 0 on missing data; a refusal names the file (and field).
        const g = await cli(['gate', dir, ...(mu.snapshots && round === 0 ? [] : ['--no-heap'])]);
        assert.ok([0, 1, 2, 3].includes(g.code), `${what}: gate exit ${g.code}`);
        assert.doesNotMatch(g.err, STACK, `${what}: gate printed a stack trace`);
        if (mu.removesData || mu.failsGate)
          assert.notEqual(g.code, 0, `${what}: gate passed a run whose data is missing\n${g.out}`);
        if (mu.refused) {
          assert.equal(g.code, 2, `${what}: gate exit ${g.code}, expected a refusal\n${g.out}${g.err}`);
          assert.match(g.err, mu.refused, what);
          refused++;
        } else assert.notEqual(g.code, 2, `${what}: refused a readable run: ${g.err}`);
        if (mu.removesData && (g.code === 1 || g.code === 3)) assert.doesNotMatch(g.out, /verdict STABLE/, what);
        // report: renders a readable run (0) or refuses (2); its verdict is never STABLE on missing data.
        const r = await cli(['report', dir, '--no-png', '--out', join(dir, 'report')]);
        assert.ok([0, 2].includes(r.code), `${what}: report exit ${r.code}\n${r.err}`);
        assert.doesNotMatch(r.err, STACK, `${what}: report printed a stack trace`);
        if (mu.refused) assert.match(r.err, mu.refused, `${what}: report`);
        if (mu.removesData) assert.doesNotMatch(r.out, /^STABLE/m, `${what}: report says STABLE`);
        // The library: readRun refuses with LS_ERR_BAD_RUN, or analyzeRun gives a verdict.
        try {
          const a = await analyzeRun(readRun(dir), { heap: false });
          assert.ok(!mu.refused, `${what}: read a run that gate refused`);
          if (mu.removesData) assert.notEqual(a.overall.verdict, 'STABLE', what);
        } catch (e) {
          assert.ok(isLsError(e) && e.code === 'LS_ERR_BAD_RUN', `${what}: ${(e as Error).stack}`);
        }
      }
    }
    assert.ok(refused >= MUTATIONS.filter((m) => m.refused).length * rounds);
  });
});
