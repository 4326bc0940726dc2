/** `leakscope heap summary|diff|leaks`: argument parsing and printing over analyzer/heap. */
import { LsError } from '../common/errors.js';
import type { ProgressFn } from '../analyzer/heap/snapshot-parser.js';
import { bool, type Command, type CommandIo, type OptionSpec, type ParsedArgs, str } from './command.js';
import { formatBytes } from '../common/format-numbers.js';
import { asFlags, numeric, validate } from '../common/validate.js';
import { renderDiff, renderLeaks, renderSummary } from './heap-format.js';

const COMMON: Record<string, OptionSpec> = {
  json: { type: 'boolean', description: 'print JSON instead of tables' },
  top: { type: 'string', arg: 'N', description: 'rows to show', default: '20' },
  quiet: { type: 'boolean', short: 'q', description: 'no progress on stderr' },
  progress: { type: 'boolean', description: 'progress on stderr for every file (default: files over 64 MB)' },
};

const topOption = (a: ParsedArgs): number =>
  validate(numeric({ min: 1, integer: true }), str(a, 'top') ?? '20', asFlags('top'));

function positionals(a: ParsedArgs, cmd: string, names: readonly string[]): string[] {
  if (a.positionals.length !== names.length) {
    throw new LsError(
      'LS_ERR_USAGE',
      `expected ${names.join(' ')}, got ${a.positionals.length} argument(s) (see: leakscope heap ${cmd} --help)`,
    );
  }
  return a.positionals;
}

const BIG = 64 << 20;

/** Progress lines on stderr every 10% of each big file, then the analysis phases. */
function progress(a: ParsedArgs, io: CommandIo): ProgressFn | undefined {
  if (bool(a, 'quiet')) return undefined;
  const threshold = bool(a, 'progress') ? 0 : BIG;
  let nextPct = 10;
  let lastDone = Infinity;
  let big = false;
  return (phase, done, total) => {
    if (phase !== 'parse') {
      if (big) io.stderr.write(`${phase}: done\n`);
      return;
    }
    if (done < lastDone) {
      // A new file started.
      nextPct = 10;
      big = total >= threshold;
    }
    lastDone = done;
    if (!big) return;
    const p = (100 * done) / total;
    if (p >= nextPct) {
      io.stderr.write(`parse: ${Math.floor(p)}% (${formatBytes(done)} of ${formatBytes(total)})\n`);
      nextPct = Math.floor(p / 10) * 10 + 10;
    }
  };
}

function print(io: CommandIo, a: ParsedArgs, value: unknown, text: () => string): void {
  io.stdout.write(bool(a, 'json') ? `${JSON.stringify(value, null, 2)}\n` : text());
}

export const heapSummaryCommand: Command = {
  name: 'heap summary',
  summary: 'classes of a heap snapshot by count, self and retained size',
  usage: 'heap summary SNAPSHOT [--top N] [--json]',
  description:
    'Parses a V8 .heapsnapshot (streaming, any size), computes dominators and retained sizes, and prints the DevTools Summary view plus the objects retaining most with their retainer paths.',
  options: {
    ...COMMON,
    objects: { type: 'string', arg: 'N', description: 'single objects to list with paths', default: '10' },
  },
  examples: [
    'leakscope heap summary runs/x/snapshots/final.heapsnapshot',
    'leakscope heap summary big.heapsnapshot --top 50 --json',
  ],
  async run(a, io) {
    const { analyzeSnapshot } = await import('../analyzer/heap/heap-analysis.js');
    const { summarizeHeap } = await import('../analyzer/heap/summary.js');
    const [file] = positionals(a, 'summary', ['SNAPSHOT']);
    const top = topOption(a);
    const objects = validate(numeric({ min: 0, integer: true }), str(a, 'objects') ?? '10', asFlags('objects'));
    const analysis = await analyzeSnapshot(file!, { onProgress: progress(a, io) });
    const s = summarizeHeap(analysis, { top, topObjects: objects });
    print(io, a, s, () => renderSummary(s));
    return 0;
  },
};

export const heapDiffCommand: Command = {
  name: 'heap diff',
  summary: 'compare two heap snapshots by class (new, deleted, delta)',
  usage: 'heap diff BEFORE AFTER [--top N] [--json]',
  description:
    'Matches objects of two snapshots of the same process by node id and prints, per class, new and deleted counts and sizes (the DevTools Comparison view), largest size change first.',
  options: COMMON,
  examples: [
    'leakscope heap diff s1.heapsnapshot s2.heapsnapshot',
    'leakscope heap diff a.heapsnapshot b.heapsnapshot --top 5 --json',
  ],
  async run(a, io) {
    const { diffHeaps } = await import('../analyzer/heap/diff.js');
    const { loadClassifiedHeap } = await import('../analyzer/heap/heap-analysis.js');
    const [before, after] = positionals(a, 'diff', ['BEFORE', 'AFTER']);
    const top = topOption(a);
    const onProgress = progress(a, io);
    const d = diffHeaps(
      await loadClassifiedHeap(before!, { onProgress }),
      await loadClassifiedHeap(after!, { onProgress }),
      { top },
    );
    print(io, a, d, () => renderDiff(d));
    return 0;
  },
};

export const heapLeaksCommand: Command = {
  name: 'heap leaks',
  summary: 'leak candidates from three snapshots (baseline, target, final)',
  usage:
    'heap leaks BASELINE [MORE…] TARGET FINAL [--profile FILE] [--top N] [--json] [--include-internal] [--keep-stopped]',
  description:
    'Objects allocated between BASELINE and TARGET that are still alive in FINAL, grouped by class and by the pre-existing object holding them, ranked by retained size, each with its shortest retainer path from the GC roots (lists, listener arrays and Map tables folded; closures with file:line). A group counts only while it keeps growing: it must gain members and its class must grow TARGET → FINAL; with more snapshots in between (in the order taken), groups that grew in every pair rank first. Take BASELINE after warm-up, TARGET after the suspect load, FINAL after more of it. With --profile, each group gets its allocation sites from a sampling heap profile taken over the same load.',
  options: {
    ...COMMON,
    top: { ...COMMON['top']!, default: '10' },
    'include-internal': {
      type: 'boolean',
      description: 'keep V8 internals (system, code, backing arrays) as candidates',
    },
    'keep-stopped': {
      type: 'boolean',
      description: 'keep groups that stopped growing before FINAL (warm-up) as candidates',
    },
    profile: {
      type: 'string',
      arg: 'FILE',
      description: 'a .heapprofile (sampling heap profile) to match allocation sites from',
    },
  },
  examples: [
    'leakscope heap leaks s1.heapsnapshot s2.heapsnapshot s3.heapsnapshot',
    'leakscope heap leaks base.heapsnapshot t-1.heapsnapshot t-2.heapsnapshot final.heapsnapshot --profile run.heapprofile',
    'leakscope heap leaks b.heapsnapshot t.heapsnapshot f.heapsnapshot --top 3 --json',
  ],
  async run(a, io) {
    const { findLeaksAcross } = await import('../analyzer/heap/leaks.js');
    if (a.positionals.length < 3)
      throw new LsError(
        'LS_ERR_USAGE',
        `expected BASELINE [MORE…] TARGET FINAL (at least 3 snapshots), got ${a.positionals.length} argument(s) (see: leakscope heap leaks --help)`,
      );
    const top = topOption(a);
    const profileFile = str(a, 'profile');
    const { readProfileJson } = await import('../analyzer/heap/allocation-profile.js');
    const { codeOfGroups } = await import('../analyzer/heap/source-lines.js');
    // Read the profile first: a bad file is reported before minutes of parsing.
    const profile = profileFile === undefined ? undefined : readProfileJson(profileFile);
    const leaks = await findLeaksAcross(a.positionals, {
      top,
      includeInternal: bool(a, 'include-internal'),
      keepStopped: bool(a, 'keep-stopped'),
      onProgress: progress(a, io),
    });
    const code = codeOfGroups(leaks.groups, profile === undefined ? undefined : { data: profile, file: profileFile! });
    const r = { ...leaks, groups: leaks.groups.map((g, k) => ({ ...g, ...code[k]! })) };
    print(io, a, r, () => renderLeaks(r));
    return 0;
  },
};
