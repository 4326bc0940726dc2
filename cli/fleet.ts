/** `leakscope fleet`: argument parsing and printing over fleet/analyze-fleet. */
import { LsError } from '../common/errors.js';
import { bool, type Command, type ParsedArgs, str, stringOption } from './command.js';
import { renderFleetSummary } from './fleet-format.js';
import { writeOptionFile } from './output-file.js';

function int(a: ParsedArgs, k: string): number | undefined {
  const v = str(a, k);
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new LsError('LS_ERR_INVALID_OPTION', `--${k}: expected a whole number, got '${v}'`);
  return Number(v);
}

export const fleetCommand: Command = {
  name: 'fleet',
  summary: 'judge every instance of a fleet from Prometheus; canary vs baseline (exit 0 pass, 1 fail, 2 bad input)',
  usage:
    'fleet --prometheus URL --selector \'{job="serving"}\' --range 2h [--step 15s] [--end TIME] [--canary SEL --baseline SEL] [--budget FILE] [--limit 4GiB] [--json] [--junit FILE]',
  description:
    "Reads RSS, V8 heap, external memory, threads, fds, the executor-cache gauges and the request counter of every instance through Prometheus' HTTP API (range queries paged to stay under 11,000 points per series, at most --concurrency at once), cuts each instance's history at restarts and counter resets, and runs the gate's statistics and budget on each segment. With --canary and --baseline the two groups' growth per request is compared with a Mann–Whitney test over sub-window slopes. Fails when an instance is over budget or the canary grows faster (see docs/fleet.md).",
  options: {
    prometheus: stringOption('Prometheus base URL, e.g. http://127.0.0.1:9090', 'URL'),
    selector: stringOption('label matchers of the fleet in braces, e.g. {job="serving"}', 'SEL'),
    canary: stringOption('label matchers of the canary group (with --baseline)', 'SEL'),
    baseline: stringOption('label matchers of the baseline group (with --canary)', 'SEL'),
    range: stringOption('how far back from --end, a Prometheus duration (e.g. 2h, 1d)', 'DURATION'),
    step: { type: 'string', arg: 'DURATION', description: 'resolution of the range queries', default: '15s' },
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
    'max-samples': { type: 'string', arg: 'N', description: 'points per series for the statistics', default: '400' },
    windows: { type: 'string', arg: 'N', description: 'canary sub-windows per instance', default: '6' },
    worst: { type: 'string', arg: 'N', description: 'instances listed in the summary', default: '10' },
    json: { type: 'boolean', description: 'print the machine-readable result instead of the summary' },
    junit: stringOption('also write JUnit XML (one testcase per instance and canary series)', 'FILE'),
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
