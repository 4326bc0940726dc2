import { Writable } from 'node:stream';

/**
 * Stdout/stderr streams that record what a CLI command writes, for calling `main([...])`
 * in-process.
 *
 * @example
 * const c = captureIo();
 * assert.equal(await main(['--help'], c.io), 0);
 * assert.match(c.out(), /Usage/);
 */
export function captureIo(): { io: { stdout: Writable; stderr: Writable }; out: () => string; err: () => string } {
  let o = '';
  let e = '';
  const mk = (f: (s: string) => void) =>
    new Writable({
      write(c, _enc, cb) {
        f(String(c));
        cb();
      },
    });
  return { io: { stdout: mk((s) => (o += s)), stderr: mk((s) => (e += s)) }, out: () => o, err: () => e };
}
