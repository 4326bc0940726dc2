/** Every CLI command, in the order `leakscope --help` lists them. */
import type { Command } from './command.js';
import { gateCommand } from './gate.js';
import { heapDiffCommand, heapLeaksCommand, heapSummaryCommand } from './heap.js';
import { modelsBuildCommand } from './models.js';
import { reportCommand } from './report.js';
import { serveCommand } from './serve.js';
import { runCommand } from './run.js';
import { compareCommand } from './compare.js';
import { fleetCommand, fleetDemoCommand } from './fleet.js';
import { rulesCommand } from './rules.js';

export const commands: readonly Command[] = [
  serveCommand,
  runCommand,
  compareCommand,
  modelsBuildCommand,
  heapSummaryCommand,
  heapDiffCommand,
  heapLeaksCommand,
  reportCommand,
  gateCommand,
  fleetCommand,
  fleetDemoCommand,
  rulesCommand,
];
