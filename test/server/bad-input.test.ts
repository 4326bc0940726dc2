import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GrpcCode, grpcCodeName } from '../../common/errors.js';
import type { HostTensor } from '../../wire/tensors.js';
import { ctrJsonColumns, ctrTensors, postJson, withModelServer } from '../helpers/model-server.js';

const LIMIT = 64 * 1024;

function replace(inputs: Array<[string, HostTensor]>, name: string, t: HostTensor): Array<[string, HostTensor]> {
  return inputs.map(([n, v]) => [n, n === name ? t : v]);
}

test('every bad gRPC request gets a clear error naming what was wrong, and the server keeps serving', async () => {
  await withModelServer({ max_message_bytes: LIMIT }, async ({ grpc }) => {
    const ok = ctrTensors();
    const f32 = (dims: number[], n = dims.reduce((a, b) => a * b, 1)): HostTensor => ({
      dtype: 'float32',
      dims,
      data: new Float32Array(n),
    });
    const cases: Array<[string, () => Promise<unknown>, number, RegExp]> = [
      ['unknown model', () => grpc.predict({ name: 'nope' }, ok), GrpcCode.NOT_FOUND, /'nope'/],
      ['unknown version', () => grpc.predict({ name: 'ctr', version: 9 }, ok), GrpcCode.NOT_FOUND, /version 9/],
      [
        'missing input',
        () => grpc.predict({ name: 'ctr' }, ok.slice(1)),
        GrpcCode.INVALID_ARGUMENT,
        /missing input\(s\) 'user_age'/,
      ],
      [
        'extra input',
        () => grpc.predict({ name: 'ctr' }, [...ok, ['bogus', f32([1, 1])]]),
        GrpcCode.INVALID_ARGUMENT,
        /'bogus' is not an input/,
      ],
      ['no inputs at all', () => grpc.predict({ name: 'ctr' }, []), GrpcCode.INVALID_ARGUMENT, /no inputs/],
      [
        'wrong dtype',
        () =>
          grpc.predict(
            { name: 'ctr' },
            replace(ok, 'user_age', { dtype: 'float64', dims: [1, 1], data: new Float64Array(1) }),
          ),
        GrpcCode.INVALID_ARGUMENT,
        /'user_age' must be float32 but float64/,
      ],
      [
        'unsupported dtype',
        () =>
          grpc.predict({ name: 'ctr' }, [
            [
              'user_age',
              { dtype: 7, tensor_shape: { dim: [{ size: 1 }, { size: 1 }] }, string_val: [Buffer.from('x')] },
            ],
          ]),
        GrpcCode.INVALID_ARGUMENT,
        /DT_STRING/,
      ],
      [
        'wrong shape',
        () => grpc.predict({ name: 'ctr' }, replace(ok, 'user_age', f32([1, 2]))),
        GrpcCode.INVALID_ARGUMENT,
        /'user_age' has shape \[1,2\]/,
      ],
      [
        'wrong rank',
        () => grpc.predict({ name: 'ctr' }, replace(ok, 'user_age', f32([1]))),
        GrpcCode.INVALID_ARGUMENT,
        /'user_age' must have rank 2/,
      ],
      [
        'mismatched batch',
        () => grpc.predict({ name: 'ctr' }, replace(ok, 'dwell_time', f32([2, 1]))),
        GrpcCode.INVALID_ARGUMENT,
        /batch size/,
      ],
      [
        'empty tensor',
        () =>
          grpc.predict(
            { name: 'ctr' },
            ok.map(([n, t]) => [
              n,
              { ...t, dims: [0, 1], data: t.dtype === 'int64' ? new BigInt64Array(0) : new Float32Array(0) },
            ]),
          ),
        GrpcCode.INVALID_ARGUMENT,
        /empty/,
      ],
      [
        'too few values',
        () =>
          grpc.predict({ name: 'ctr' }, [
            ['user_age', { dtype: 1, tensor_shape: { dim: [{ size: 3 }, { size: 1 }] }, float_val: [1, 2] }],
          ]),
        GrpcCode.INVALID_ARGUMENT,
        /2 float_val value\(s\) but shape \[3,1\] needs 3/,
      ],
      [
        'no values',
        () =>
          grpc.predict({ name: 'ctr' }, [
            ['user_age', { dtype: 1, tensor_shape: { dim: [{ size: 1 }, { size: 1 }] } }],
          ]),
        GrpcCode.INVALID_ARGUMENT,
        /no values/,
      ],
      [
        'tensor_content length',
        () =>
          grpc.predict({ name: 'ctr' }, [
            [
              'user_age',
              { dtype: 1, tensor_shape: { dim: [{ size: 1 }, { size: 1 }] }, tensor_content: new Uint8Array(3) },
            ],
          ]),
        GrpcCode.INVALID_ARGUMENT,
        /tensor_content has 3 bytes but shape \[1,1\] of DT_FLOAT needs 4/,
      ],
      [
        'negative dimension',
        () =>
          grpc.predict({ name: 'ctr' }, [
            ['user_age', { dtype: 1, tensor_shape: { dim: [{ size: -1 }, { size: 1 }] }, float_val: [1] }],
          ]),
        GrpcCode.INVALID_ARGUMENT,
        /negative dimension/,
      ],
      [
        'malformed protobuf',
        () => grpc.predictRaw(Buffer.from([0x0a, 0xff, 0xff, 0x01, 0x02])),
        GrpcCode.INVALID_ARGUMENT,
        /malformed PredictRequest/,
      ],
      [
        'missing model_spec',
        () => grpc.predictRaw(Buffer.alloc(0)),
        GrpcCode.INVALID_ARGUMENT,
        /model_spec is missing/,
      ],
      [
        'over the size limit',
        () => grpc.predict({ name: 'ctr' }, replace(ok, 'user_age', f32([LIMIT, 1]))),
        GrpcCode.RESOURCE_EXHAUSTED,
        /larger than max|exceed/i,
      ],
      [
        'bad signature',
        () => grpc.predict({ name: 'ctr', signatureName: 'nope' }, ok),
        GrpcCode.INVALID_ARGUMENT,
        /'nope' not found/,
      ],
    ];
    for (const [what, call, code, re] of cases) {
      await assert.rejects(
        call(),
        (e: any) => {
          assert.equal(grpcCodeName(e.code), grpcCodeName(code), `${what}: ${e.details}`);
          assert.match(e.details, re, what);
          return true;
        },
        what,
      );
    }
    const res = await grpc.predict({ name: 'ctr' }, ok);
    assert.ok(res.outputs.prob!.float_val![0]! > 0);
  });
});

test('every bad REST request gets {"error"} with the right HTTP status, and the server keeps serving', async () => {
  await withModelServer({ max_message_bytes: LIMIT }, async ({ rest }) => {
    const url = `${rest}/v1/models/ctr:predict`;
    const cols = ctrJsonColumns();
    const without = (n: string) => Object.fromEntries(Object.entries(cols).filter(([k]) => k !== n));
    const cases: Array<[string, string, unknown, number, RegExp]> = [
      ['unknown model', `${rest}/v1/models/nope:predict`, { inputs: cols }, 404, /'nope'/],
      ['unknown version', `${rest}/v1/models/ctr/versions/4:predict`, { inputs: cols }, 404, /version 4/],
      ['bad version', `${rest}/v1/models/ctr/versions/x1:predict`, { inputs: cols }, 400, /'x1' is not a version/],
      ['missing input', url, { inputs: without('dwell_time') }, 400, /missing input\(s\) 'dwell_time'/],
      ['extra input', url, { inputs: { ...cols, bogus: [[1]] } }, 400, /'bogus' is not an input/],
      [
        'wrong dtype (fraction for int64)',
        url,
        { inputs: { ...cols, item_id: [[1.5]] } },
        400,
        /'item_id' expects integers/,
      ],
      ['wrong dtype (string)', url, { inputs: { ...cols, user_age: [['old']] } }, 400, /'user_age' expects numbers/],
      ['wrong shape', url, { inputs: { ...cols, user_age: [[1, 2]] } }, 400, /'user_age' has shape \[1,2\]/],
      ['wrong rank', url, { inputs: { ...cols, user_age: [1] } }, 400, /'user_age' must have rank 2/],
      ['ragged', url, { inputs: { ...cols, user_age: [[1], [2, 3]] } }, 400, /ragged/],
      ['mismatched batch', url, { inputs: { ...cols, user_age: [[1], [2]] } }, 400, /batch size/],
      ['empty inputs', url, { inputs: {} }, 400, /no inputs/],
      ['empty instances', url, { instances: [] }, 400, /'instances' is empty/],
      [
        'instances disagree',
        url,
        { instances: [{ user_age: [1] }, { item_id: [2] }] },
        400,
        /every instance must name the same inputs/,
      ],
      ['both forms', url, { instances: [], inputs: cols }, 400, /not both/],
      ['neither form', url, { signature_name: 'serving_default' }, 400, /'instances' .* or 'inputs'/],
      ['not an object', url, '[1,2,3]', 400, /JSON object/],
      ['malformed JSON', url, '{"inputs": {', 400, /malformed JSON/],
      [
        'over the size limit',
        url,
        { inputs: { ...cols, pad: 'x'.repeat(LIMIT) } },
        413,
        /exceeds the limit of 65536 bytes/,
      ],
      ['bad signature', url, { signature_name: 'nope', inputs: cols }, 400, /'nope' not found/],
    ];
    for (const [what, u, body, status, re] of cases) {
      const r = await postJson(u, body);
      assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body)}`);
      assert.equal(typeof r.body.error, 'string', what);
      assert.match(r.body.error, re, what);
    }
    const wrongMethod = await fetch(url);
    assert.equal(wrongMethod.status, 405);
    const good = await postJson(url, { inputs: cols });
    assert.equal(good.status, 200, JSON.stringify(good.body));
  });
});
