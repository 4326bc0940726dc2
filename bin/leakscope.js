#!/usr/bin/env node
// Thin shim over the built CLI: an installed package ships dist/; a clone builds it with `npm run build`.
const entry = new URL('../dist/cli/main.js', import.meta.url);

import(entry.href).then(
  ({ main }) =>
    main(process.argv.slice(2)).then(
      (code) => {
        process.exitCode = code;
      },
      (err) => {
        process.stderr.write(`leakscope: ${err?.stack ?? err}\n`);
        process.exitCode = 2;
      },
    ),
  (err) => {
    const missing = err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(entry.pathname);
    process.stderr.write(
      missing
        ? `leakscope: the CLI is not built (${entry.pathname} is missing): run \`npm run build\` in ${new URL('..', import.meta.url).pathname}\n`
        : `leakscope: ${err?.stack ?? err}\n`,
    );
    process.exitCode = 2;
  },
);
