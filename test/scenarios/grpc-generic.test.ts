import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import protobuf from 'protobufjs';
import { LsError } from '../../common/errors.js';
import { loadGrpcMethod } from '../../scenarios/grpc-generic.js';
import { startGrpcPhase } from '../../scenarios/grpc-driver.js';
import { planArrivals } from '../../scenarios/schedule.js';
import { withTmpDir } from '../helpers/tmp-dir.js';
import { bindLoopback, rawUnaryMethod } from '../helpers/trivial-grpc-server.js';

const PROTO = `syntax = "proto3";
package demo.v1;
enum Tier { FREE = 0; PRO = 1; }
message Item { string sku = 1; double price = 2; }
message ScoreRequest {
  string user_id = 1;
  int32 count = 2;
  int64 big = 3;
  bool flag = 4;
  Tier tier = 5;
  repeated Item items = 6;
  map<string, float> weights = 7;
}
message ScoreReply { float score = 1; }
service Scorer {
  rpc Score(ScoreRequest) returns (ScoreReply);
  rpc Watch(ScoreRequest) returns (stream ScoreReply);
}
`;

const TEMPLATE = {
  user_id: 'u-{{i}}',
  count: '{{randInt 1 5}}',
  big: '9007199254740993',
  flag: '{{choice true false}}',
  tier: 'PRO',
  items: [{ sku: 'sku-{{randInt 1 3}}', price: 2.5 }],
  weights: { a: '{{randFloat 0 1}}' },
};

const badScenario = (p: Promise<unknown>, msg: RegExp) =>
  assert.rejects(p, (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_BAD_SCENARIO' && msg.test(e.message));

test('a unary method from a .proto with a JSON template: encoded per request, driven and counted by status', async () => {
  await withTmpDir('leakscope-grpcgen-', async (dir) => {
    const file = join(dir, 'scorer.proto');
    await writeFile(file, PROTO);
    const m = await loadGrpcMethod(
      { protoFile: file, method: 'demo.v1.Scorer/Score', request: TEMPLATE },
      'phases[0].grpc',
    );
    assert.equal(m.path, '/demo.v1.Scorer/Score');
    const decoded = m.requestType.toObject(m.requestType.decode(m.request(4)), {
      longs: String,
      enums: String,
    }) as Record<string, any>;
    assert.equal(decoded.user_id, 'u-4');
    assert.ok(decoded.count >= 1 && decoded.count <= 5);
    assert.equal(decoded.big, '9007199254740993');
    assert.equal(typeof decoded.flag === 'boolean' || decoded.flag === undefined, true);
    assert.equal(decoded.tier, 'PRO');
    assert.match(decoded.items[0].sku, /^sku-[123]$/);
    assert.equal(decoded.items[0].price, 2.5);
    assert.ok(decoded.weights.a >= 0 && decoded.weights.a < 1);

    // An in-test server for the method: answers a score, refuses odd user ids.
    const root = new protobuf.Root().loadSync(file, { keepCase: true });
    const Req = root.lookupType('demo.v1.ScoreRequest');
    const Rep = root.lookupType('demo.v1.ScoreReply');
    const server = new grpc.Server();
    let seen = 0;
    server.addService(
      { Score: rawUnaryMethod(m.path) },
      {
        Score: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          const req = Req.decode(call.request) as unknown as { user_id: string };
          seen++;
          if (Number(req.user_id.slice(2)) % 2) cb({ code: grpc.status.FAILED_PRECONDITION, details: 'odd' });
          else cb(null, Buffer.from(Rep.encode({ score: 0.5 }).finish()));
        },
      },
    );
    const address = await bindLoopback(server);
    try {
      const r = await startGrpcPhase({
        name: 'generic',
        address,
        path: m.path,
        request: m.request,
        schedule: planArrivals({ kind: 'constant', rate: 200, requests: 40 }),
        transport: 'grpc-generic',
      }).done;
      assert.equal(r.transport, 'grpc-generic');
      assert.deepEqual(r.statusCounts, { OK: 20, FAILED_PRECONDITION: 20 });
      assert.equal(seen, 40);
    } finally {
      server.forceShutdown();
    }
  });
});

test('generic gRPC validation: file, method, streaming, unknown field, bad enum, bad template', async () => {
  await withTmpDir('leakscope-grpcgen-', async (dir) => {
    const file = join(dir, 'scorer.proto');
    await writeFile(file, PROTO);
    await badScenario(
      loadGrpcMethod({ protoFile: join(dir, 'none.proto'), method: 'a.B/C', request: {} }, 'g'),
      /g\.protoFile: cannot load/,
    );
    await badScenario(loadGrpcMethod({ protoFile: file, method: 'Score', request: {} }, 'g'), /g\.method/);
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Nope/Score', request: {} }, 'g'),
      /no service 'demo\.v1\.Nope'/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer.Rank', request: {} }, 'g'),
      /no method 'Rank'.*Score, Watch/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer/Watch', request: {} }, 'g'),
      /streaming/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer/Score', request: { usr: 'x' } }, 'g'),
      /g\.request\.usr: no such field in demo\.v1\.ScoreRequest/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer/Score', request: { tier: 'GOLD' } }, 'g'),
      /g\.request\.tier: 'GOLD' is not a value/,
    );
    await badScenario(
      loadGrpcMethod(
        { protoFile: file, method: 'demo.v1.Scorer/Score', request: { items: [{ sku: '{{who}}' }] } },
        'g',
      ),
      /g\.request\.items\[0\]\.sku: unknown template variable/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer/Score', request: { count: 'many' } }, 'g'),
      /g\.request\.count: gave 'many'/,
    );
    await badScenario(
      loadGrpcMethod({ protoFile: file, method: 'demo.v1.Scorer/Score', request: { items: { sku: 'a' } } }, 'g'),
      /g\.request\.items: must be an array/,
    );
  });
});
