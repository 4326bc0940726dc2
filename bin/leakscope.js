#!/usr/bin/env node
// Thin shim: the CLI is built into dist/ by `npm ci` (the package's prepare script).
import { main } from '../dist/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`leakscope: ${err?.stack ?? err}\n`);
    process.exitCode = 2;
  },
);
