/** Entry of the `leakscope` CLI: dispatches to one module per command. */
import { isLsError, toLsError } from '../common/errors.js';
import { type Command, type CommandIo, parseCommandArgs, renderHelp } from './command.js';
import { commands } from './registry.js';

function topHelp(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'leakscope — memory-leak diagnosis for model-serving servers',
    '',
    'Usage: leakscope <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run `leakscope <command> --help` for the options of one command.',
    'Exit codes: 0 success/pass, 1 gate failed, 2 bad usage or unreadable input, 3 gate inconclusive (not enough data).',
    '',
  ].join('\n');
}

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  // Longest match first so "models build" wins over "models".
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const cmd of sorted) {
    const words = cmd.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { cmd, rest: argv.slice(words.length) };
  }
  return undefined;
}

export async function main(
  argv: string[],
  io: CommandIo = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(topHelp());
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-v') {
    const { VERSION } = await import('../common/version.js');
    io.stdout.write(`${VERSION}\n`);
    return 0;
  }
  const found = findCommand(argv);
  if (!found) {
    io.stderr.write(`leakscope: unknown command '${argv.slice(0, 2).join(' ')}'\n\n${topHelp()}`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    io.stdout.write(renderHelp(cmd));
    return 0;
  }
  try {
    const args = parseCommandArgs(cmd, rest);
    return await cmd.run(args, io);
  } catch (e) {
    const err = toLsError(e);
    io.stderr.write(`leakscope ${cmd.name}: ${err.message}${isLsError(e) ? '' : `\n${(e as Error)?.stack ?? ''}`}\n`);
    return err.exitCode;
  }
}
