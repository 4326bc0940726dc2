/** Every CLI command, in the order `leakscope --help` lists them. */
import type { Command } from './command.js';
import { modelsBuildCommand } from './models.js';

export const commands: readonly Command[] = [
  modelsBuildCommand,
];
