import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../../cli/main.js';
import { LsError, GrpcCode, grpcCodeName } from '../../common/errors.js';
import { captureIo } from '../helpers/capture-io.js';

const capture = captureIo;

test('top-level help lists commands and exit codes', async () => {
  const c = capture();
  assert.equal(await main(['--help'], c.io), 0);
  assert.match(c.out(), /Usage: leakscope <command>/);
  assert.match(c.out(), /Exit codes/);
});

test('unknown command exits 2 and names it', async () => {
  const c = capture();
  assert.equal(await main(['frobnicate'], c.io), 2);
  assert.match(c.err(), /unknown command 'frobnicate'/);
});

test('LsError maps codes to gRPC, HTTP and exit status once', () => {
  const e = new LsError('LS_ERR_THREADS_EXHAUSTED', 'cap reached');
  assert.equal(e.grpcCode, GrpcCode.RESOURCE_EXHAUSTED);
  assert.equal(e.httpStatus, 429);
  assert.equal(grpcCodeName(e.grpcCode), 'RESOURCE_EXHAUSTED');
  assert.equal(new LsError('LS_ERR_GATE_FAILED', 'x').exitCode, 1);
  assert.equal(new LsError('LS_ERR_BAD_FILE', 'x').exitCode, 2);
});
