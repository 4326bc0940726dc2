/** `leakscope rules`: argument parsing and printing over fleet/alert-rules. */
import { LsError } from '../common/errors.js';
import { type Command, str, stringOption } from './command.js';
import { writeOptionFile } from './output-file.js';

export const rulesCommand: Command = {
  name: 'rules',
  summary: "write Prometheus recording and alerting rules that enforce the gate's budget in production",
  usage:
    'rules [--budget FILE] [--selector SEL] [--by LABEL] [--window 1h] [--limit 4GiB] [--thread-cap N] [--out FILE]',
  description:
    "Growth per request of RSS, V8 heap and executor-cache entries (deriv over --window divided by the request rate) alerting above the budget's maxPerRequest, held for a time that grows with the budget's confidence; predict_linear to the memory limit (with --limit); handler threads above the cap, and servers with no cap. Check the file with `promtool check rules` (see docs/fleet.md).",
  options: {
    budget: stringOption('budget JSON as for gate (default: the built-in budget)', 'FILE'),
    selector: { type: 'string', arg: 'SEL', description: 'label matchers every rule is limited to', default: '{}' },
    by: {
      type: 'string',
      arg: 'LABEL',
      description: 'label naming an instance (pod on Kubernetes)',
      default: 'instance',
    },
    window: { type: 'string', arg: 'DURATION', description: 'window of deriv() and rate()', default: '1h' },
    limit: stringOption('memory limit for the predict_linear alert (e.g. 4GiB); none without it', 'SIZE'),
    horizon: { type: 'string', arg: 'DURATION', description: 'how far ahead predict_linear looks', default: '4h' },
    'thread-cap': {
      type: 'string',
      arg: 'N',
      description: "handler threads above this alert (default: the budget's threads.maxPeak, else 64)",
    },
    metric: {
      type: 'string',
      arg: 'KEY=NAME',
      multiple: true,
      description: 'rename a metric, e.g. rssBytes=container_memory_rss (repeatable)',
    },
    out: stringOption('write the rules here instead of stdout', 'FILE'),
  },
  examples: [
    'leakscope rules --selector \'{job="serving"}\' --limit 4GiB --out leakscope-rules.yml && promtool check rules leakscope-rules.yml',
    'leakscope rules --budget budget.json --by pod --window 2h',
  ],
  async run(a, io) {
    if (a.positionals.length)
      throw new LsError('LS_ERR_USAGE', `unexpected argument(s): ${a.positionals.join(' ')} (options only)`);
    const { loadBudget, DEFAULT_BUDGET } = await import('../analyzer/budget.js');
    const { alertRules } = await import('../fleet/alert-rules.js');
    const { fleetMetrics } = await import('../fleet/fleet-metrics.js');
    const { parseBytes, parseDuration, selectorMatchers } = await import('../fleet/query-syntax.js');
    const budgetFile = str(a, 'budget');
    const budget = budgetFile ? loadBudget(budgetFile) : DEFAULT_BUDGET;
    const by = str(a, 'by')!;
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(by))
      throw new LsError('LS_ERR_INVALID_OPTION', `--by: '${by}' is not a label name`);
    const capText = str(a, 'thread-cap');
    if (capText !== undefined && !/^\d+$/.test(capText))
      throw new LsError('LS_ERR_INVALID_OPTION', `--thread-cap: expected a whole number, got '${capText}'`);
    const metric = a.values.metric;
    const text = alertRules({
      budget,
      budgetName: budgetFile ?? 'default',
      matchers: selectorMatchers(str(a, 'selector')!, '--selector'),
      groupBy: by,
      metrics: fleetMetrics(Array.isArray(metric) ? metric.map(String) : []),
      windowMs: parseDuration(str(a, 'window')!, '--window'),
      limitBytes: str(a, 'limit') !== undefined ? parseBytes(str(a, 'limit')!, '--limit') : null,
      horizonMs: parseDuration(str(a, 'horizon')!, '--horizon'),
      threadCap: capText !== undefined ? Number(capText) : (budget.threads.maxPeak ?? 64),
    });
    const out = str(a, 'out');
    if (!out) {
      io.stdout.write(text);
      return 0;
    }
    await writeOptionFile('--out', out, text);
    io.stderr.write(`leakscope rules: wrote ${out}\n`);
    return 0;
  },
};
