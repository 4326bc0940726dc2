/**
 * A CLI command is a unit that declares its name, description, options and examples;
 * help text is generated from those. Commands parse and print only: the work is done by
 * library functions the tests call directly.
 */
import { parseArgs } from 'node:util';
import { LsError } from '../common/errors.js';

export interface OptionSpec {
  readonly type: 'string' | 'boolean';
  readonly description: string;
  readonly short?: string;
  readonly default?: string | boolean;
  readonly multiple?: boolean;
  /** Placeholder shown in help, e.g. DIR. */
  readonly arg?: string;
}

export interface CommandIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
}

export interface ParsedArgs {
  readonly values: Record<string, string | boolean | (string | boolean)[] | undefined>;
  readonly positionals: string[];
}

export interface Command {
  /** Space-separated for sub-commands, e.g. "models build". */
  readonly name: string;
  readonly summary: string;
  readonly usage: string;
  readonly description?: string;
  readonly options: Readonly<Record<string, OptionSpec>>;
  readonly examples: readonly string[];
  /** Returns the process exit code. */
  run(args: ParsedArgs, io: CommandIo): Promise<number>;
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries(cmd.options)) {
    options[k] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    const withDefaults: Record<string, string | boolean | (string | boolean)[] | undefined> = { ...values };
    for (const [k, o] of Object.entries(cmd.options)) {
      if (withDefaults[k] === undefined && o.default !== undefined) withDefaults[k] = o.default;
    }
    return { values: withDefaults, positionals };
  } catch (e) {
    throw new LsError('LS_ERR_USAGE', `${(e as Error).message} (see: leakscope ${cmd.name} --help)`);
  }
}

export function renderHelp(cmd: Command): string {
  const lines = [`leakscope ${cmd.name} — ${cmd.summary}`, '', `Usage: leakscope ${cmd.usage}`];
  if (cmd.description) lines.push('', cmd.description);
  const opts = Object.entries(cmd.options);
  if (opts.length) {
    lines.push('', 'Options:');
    const rows = opts.map(([k, o]) => {
      const flag = `${o.short ? `-${o.short}, ` : ''}--${k}${o.type === 'string' ? ` ${o.arg ?? 'VALUE'}` : ''}`;
      const dflt = o.default !== undefined && o.default !== false ? ` (default: ${String(o.default)})` : '';
      return [flag, o.description + dflt] as const;
    });
    const w = Math.max(...rows.map((r) => r[0].length));
    for (const [f, d] of rows) lines.push(`  ${f.padEnd(w)}  ${d}`);
  }
  if (cmd.examples.length) {
    lines.push('', 'Examples:');
    for (const ex of cmd.examples) lines.push(`  ${ex}`);
  }
  return lines.join('\n') + '\n';
}

/** A string option for a command's `options`, with its help text and placeholder. */
export const stringOption = (description: string, arg = 'VALUE'): OptionSpec => ({ type: 'string', description, arg });

/** Reads a string option; undefined when absent. */
export const str = (a: ParsedArgs, k: string): string | undefined => {
  const v = a.values[k];
  return typeof v === 'string' ? v : undefined;
};
export const bool = (a: ParsedArgs, k: string): boolean => a.values[k] === true;
