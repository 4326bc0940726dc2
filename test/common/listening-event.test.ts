import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { awaitListening, formatListening, parseListening, parseServeListening } from '../../common/listening-event.js';

const serve = {
  grpc: '127.0.0.1:8500',
  rest: '127.0.0.1:8501',
  diagnostics: null,
  mode: 'leaky',
  fixes: [],
  pid: 4242,
};

describe('the listening line', () => {
  it('round-trips through format and parse, one line with its newline', () => {
    const line = formatListening(serve);
    assert.ok(line.endsWith('\n') && !line.slice(0, -1).includes('\n'));
    assert.deepEqual(parseServeListening(line.trim()), { event: 'listening', ...serve });
    assert.deepEqual(parseListening(formatListening({ grpc: '[::1]:9000' })), {
      event: 'listening',
      grpc: '[::1]:9000',
    });
  });

  it('is found by its content, not by its key order', () => {
    const line = JSON.stringify({ pid: 7, grpc: 'localhost:1', event: 'listening' });
    assert.equal(parseListening(line)?.pid, 7);
  });

  it('passes over other lines', () => {
    for (const line of ['', 'Debugger listening on ws://x', '{"level":30,"msg":"model loaded"}', '{not json', '[1]'])
      assert.equal(parseListening(line), undefined, line);
  });

  it('refuses a listening line with a malformed field, naming it', () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ event: 'listening' }, /bad 'grpc': undefined/],
      [{ event: 'listening', grpc: 'no-port' }, /bad 'grpc': "no-port"/],
      [{ event: 'listening', grpc: 'h:1', rest: 8501 }, /bad 'rest': 8501/],
      [{ event: 'listening', grpc: 'h:1', diagnostics: 'x' }, /bad 'diagnostics'/],
      [{ event: 'listening', grpc: 'h:1', fixes: 'thread-cap' }, /bad 'fixes'/],
      [{ event: 'listening', grpc: 'h:1', pid: -1 }, /bad 'pid': -1/],
    ];
    for (const [j, message] of cases)
      assert.throws(() => parseListening(JSON.stringify(j)), { code: 'LS_ERR_TARGET', message });
  });

  it("asks the reference server's line for all its fields", () => {
    assert.throws(() => parseServeListening(formatListening({ grpc: 'h:1', rest: 'h:2' })), {
      code: 'LS_ERR_TARGET',
      message: /lacks diagnostics, mode, fixes, pid/,
    });
  });

  it('is awaited from a child: the event after other lines, or an error naming a child that exits first', async () => {
    const child = (script: string) => spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'ignore'] });
    const lines: string[] = [];
    const up = child(
      `console.log('booting'); console.log(${JSON.stringify(formatListening({ grpc: 'h:1' }).trim())}); setTimeout(() => {}, 200)`,
    );
    const e = await awaitListening(up, {
      parse: parseListening,
      what: 'up',
      timeoutMs: 20_000,
      tail: () => '',
      onLine: (l) => lines.push(l),
    });
    assert.equal(e.grpc, 'h:1');
    assert.equal(lines[0], 'booting');
    await assert.rejects(
      awaitListening(child('process.exit(3)'), {
        parse: parseListening,
        what: 'down',
        timeoutMs: 20_000,
        tail: () => 'tail',
      }),
      { code: 'LS_ERR_TARGET', message: /^down exited during start-up \(code 3, signal null\): tail/ },
    );
  });
});
