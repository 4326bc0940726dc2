/** `leakscope fleet`: argument parsing and printing over fleet/analyze-fleet. */
import { join } from 'node:path';
import { LsError } from '../common/errors.js';
import type { FleetResult } from '../common/fleet-format.js';
import { stamp } from '../common/time-stamp.js';
import { bool, type Command, type CommandIo, type ParsedArgs, str, stringOption } from './command.js';
import { renderFleetSummary } from './fleet-format.js';
import { writeOptionFile } from './output-file.js';

function int(a: ParsedArgs, k: string): number | undefined {
  const v = str(a, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new LsError('LS_ERR_INVALID_OPTION', `--${k}: expected a whole number, got '${v}'`);
  return Number(v);
}

/** Writes the HTML fleet report when --out is given and says where it is. */
async function reportTo(out: string | undefined, result: FleetResult, io: CommandIo): Promise<void> {
  if (out === undefined) return;
  const { writeFleetReport } = await import('../reports/fleet-report.js');
  const file = await writeFleetReport(result, out).catch((e: NodeJS.ErrnoException) => {
    throw new LsError('LS_ERR_INVALID_OPTION', `--out ${out}: cannot write the report (${e.code ?? e.message})`);
  });
  io.stderr.write(`leakscope fleet: report ${file}\n`);
}

export const fleetCommand: Command = {
  name: 'fleet',
  summary: 'judge every instance of a fleet from Prometheus; canary vs baseline (exit 0 pass, 1 fail, 2 bad input)',
  usage:
    'fleet --prometheus URL --selector \'{job="serving"}\' --range 2h [--step auto|15s] [--end TIME] [--canary SEL --baseline SEL] [--budget FILE] [--limit 4GiB] [--json] [--junit FILE]',
  description:
    "Reads RSS, V8 heap, external memory, threads, fds, the executor-cache gauges and the request counter of every instance through Prometheus' HTTP API (range queries paged to stay under 11,000 points per series, at most --concurrency at once), cuts each instance's history at restarts and counter resets, and runs the gate's statistics and budget on each segment. With --canary and --baseline the two groups' growth per request is compared with a Mann–Whitney test over sub-window slopes. Fails when an instance is over budget or the canary grows faster (see docs/fleet.md).",
  options: {
    prometheus: stringOption('Prometheus base URL, e.g. http://127.0.0.1:9090', 'URL'),
    selector: stringOption('label matchers of the fleet in braces, e.g. {job="serving"}', 'SEL'),
    canary: stringOption('label matchers of the canary group (with --baseline)', 'SEL'),
    baseline: stringOption('label matchers of the baseline group (with --canary)', 'SEL'),
    range: stringOption('how far back from --end, a Prometheus duration (e.g. 2h, 1d)', 'DURATION'),
    step: {
      type: 'string',
      arg: 'DURATION',
      description: 'resolution of the range queries; auto: 15s, coarser past 2,000 points per series',
      default: 'auto',
    },
    end: {
      type: 'string',
      arg: 'TIME',
      description: 'end of the range: now, Unix seconds or RFC 3339',
      default: 'now',
    },
    by: {
      type: 'string',
      arg: 'LABEL',
      description: 'label naming an instance (pod on Kubernetes)',
      default: 'instance',
    },
    metric: {
      type: 'string',
      arg: 'KEY=NAME',
      multiple: true,
      description: 'rename a metric, e.g. rssBytes=container_memory_rss (repeatable; NAME may be a|b)',
    },
    budget: stringOption('budget JSON as for gate (default: the built-in budget)', 'FILE'),
    limit: stringOption(
      'memory limit for projections and OOM kills (default: container_spec_memory_limit_bytes)',
      'SIZE',
    ),
    concurrency: { type: 'string', arg: 'N', description: 'Prometheus requests in flight at once', default: '4' },
    'max-samples': { type: 'string', arg: 'N', description: 'points per segment for the statistics', default: '300' },
    windows: { type: 'string', arg: 'N', description: 'canary sub-windows per instance', default: '6' },
    settle: {
      type: 'string',
      arg: 'DURATION',
      description: 'warm-up left out after each process start',
      default: '10m',
    },
    worst: { type: 'string', arg: 'N', description: 'instances listed in the summary', default: '10' },
    json: { type: 'boolean', description: 'print the machine-readable result instead of the summary' },
    junit: stringOption('also write JUnit XML (one testcase per instance and canary series)', 'FILE'),
    out: stringOption('also write the HTML fleet report (index.html) and fleet.json here', 'DIR'),
  },
  examples: [
    'leakscope fleet --prometheus http://127.0.0.1:9090 --selector \'{job="serving"}\' --range 2h',
    'leakscope fleet --prometheus http://prom:9090 --canary \'{track="canary"}\' --baseline \'{track="stable"}\' --range 6h --junit canary.xml',
    'leakscope fleet --prometheus http://prom:9090 --selector \'{namespace="ml"}\' --by pod --range 1d --step 1m --limit 4GiB',
  ],
  async run(a, io) {
    if (a.positionals.length)
      throw new LsError('LS_ERR_USAGE', `unexpected argument(s): ${a.positionals.join(' ')} (options only)`);
    const prometheus = str(a, 'prometheus');
    const range = str(a, 'range');
    if (!prometheus) throw new LsError('LS_ERR_USAGE', '--prometheus URL is required');
    if (!range) throw new LsError('LS_ERR_USAGE', '--range DURATION is required (e.g. --range 2h)');
    const budgetFile = str(a, 'budget');
    const { loadBudget } = await import('../analyzer/budget.js');
    const { analyzeFleet } = await import('../fleet/analyze-fleet.js');
    const metric = a.values.metric;
    const result = await analyzeFleet({
      prometheus,
      range,
      step: str(a, 'step')!,
      end: str(a, 'end')!,
      groupBy: str(a, 'by')!,
      ...(str(a, 'selector') !== undefined ? { selector: str(a, 'selector')! } : {}),
      ...(str(a, 'canary') !== undefined ? { canary: str(a, 'canary')! } : {}),
      ...(str(a, 'baseline') !== undefined ? { baseline: str(a, 'baseline')! } : {}),
      ...(Array.isArray(metric) ? { metrics: metric.map(String) } : {}),
      ...(budgetFile ? { budget: loadBudget(budgetFile), budgetName: budgetFile } : {}),
      ...(str(a, 'limit') !== undefined ? { limit: str(a, 'limit')! } : {}),
      concurrency: int(a, 'concurrency')!,
      maxSamples: int(a, 'max-samples')!,
      windows: int(a, 'windows')!,
      settle: str(a, 'settle')!,
    });
    const junit = str(a, 'junit');
    if (junit) {
      const { fleetJunit } = await import('../fleet/fleet-junit.js');
      await writeOptionFile('--junit', junit, fleetJunit(result));
    }
    io.stdout.write(
      bool(a, 'json') ? `${JSON.stringify(result, null, 2)}\n` : renderFleetSummary(result, int(a, 'worst')),
    );
    return result.pass ? 0 : 1;
  },
};

export const fleetDemoCommand: Command = {
  name: 'fleet demo',
  summary: 'a real Prometheus, leaky and patched reference servers under load, then fleet with a canary check',
  usage: 'fleet demo [--servers 4] [--rate 25] [--duration 120] [--settle 30] [--json] [--out DIR]',
  description:
    "Starts Debian's prometheus (a plain process on a loopback port, scraping every 2 s), N reference servers (half leaky, half patched) and shuffled-input gRPC load on each, then judges the fleet from Prometheus with the leaky servers as the canary and the patched as the baseline. Exits 0 when the leaky canary is caught and every patched server passes. Everything it starts is stopped before it exits.",
  options: {
    servers: { type: 'string', arg: 'N', description: 'reference servers, the first half leaky', default: '4' },
    rate: { type: 'string', arg: 'RPS', description: 'requests per second on each server', default: '25' },
    duration: { type: 'string', arg: 'S', description: 'seconds of load', default: '120' },
    settle: { type: 'string', arg: 'S', description: 'seconds of warm-up left out of the statistics', default: '30' },
    json: { type: 'boolean', description: 'print the machine-readable result instead of the summary' },
    out: stringOption('HTML fleet report folder (default reports/fleet-demo-<time>/)', 'DIR'),
  },
  examples: ['leakscope fleet demo', 'leakscope fleet demo --servers 6 --duration 180'],
  async run(a, io) {
    if (a.positionals.length)
      throw new LsError('LS_ERR_USAGE', `unexpected argument(s): ${a.positionals.join(' ')} (options only)`);
    const { runFleetDemo } = await import('../pipeline/fleet-demo.js');
    const { result, wallMs } = await runFleetDemo({
      servers: int(a, 'servers')!,
      rate: int(a, 'rate')!,
      durationS: int(a, 'duration')!,
      settleS: int(a, 'settle')!,
      onEvent: (line) => io.stderr.write(`leakscope fleet demo: ${line}\n`),
    });
    io.stdout.write(bool(a, 'json') ? `${JSON.stringify(result, null, 2)}\n` : renderFleetSummary(result, 16));
    await reportTo(str(a, 'out') ?? join('reports', `fleet-demo-${stamp()}`), result, io);
    const patchedPass = result.instances.filter((i) => i.group === 'baseline').every((i) => i.pass);
    const caught = result.canary !== null && !result.canary.pass;
    io.stderr.write(
      `leakscope fleet demo: ${(wallMs / 1000).toFixed(0)} s; leaky canary ${caught ? 'caught' : 'NOT caught'}, patched servers ${patchedPass ? 'all pass' : 'NOT all passing'}\n`,
    );
    return caught && patchedPass ? 0 : 1;
  },
};
