import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { GrpcCode, LsError } from '../../common/errors.js';
import { readProcStats } from '../../common/proc.js';
import { HandlerThreadRunner } from '../../server/handler-threads.js';
import { UNCAPPED_ADMISSION } from '../../server/thread-admission.js';
import { writeModelVersions } from '../../wire/models/write-models.js';
import { onnxLoader } from '../../server/repository.js';
import { runSession } from '../../server/inference.js';
import type { HostTensor } from '../../wire/tensors.js';
import { eventually, FEATURES, grpcPredict, restPredict, samplePeak, withSpikeServer } from '../helpers/spike.js';
import { withTmpDir } from '../helpers/tmp-dir.js';

const osThreads = () => readProcStats(process.pid).threads;

describe('leaky: a spike of slow requests piles up handler threads', () => {
  it('C concurrent 300 ms Predicts get a thread each (threads ≈ in flight), all answered, then churn back', async (t) => {
    const C = 60;
    // The spawn chain runs at pickup speed: each pickup starts the next poller, which takes the
    // next request before its isolate is up. Isolates boot a few at a time (about the CPUs), so
    // on a busy runner the last threads come up seconds after their requests arrived (a thread
    // that frees first takes a waiting request over), but every thread the spike started comes
    // up and none leaves before the last is up: the thread count reaches the requests in flight
    // however slowly isolates boot. A thread that has answered takes the next request, as
    // upstream's polls again, so on a runner too busy to read all C requests within the service
    // time fewer than C are in flight at once: threads are held to the most the server had in
    // flight (its in-flight gauge). Nothing here is timed.
    await withSpikeServer({ mode: 'leaky', model_delay_ms: 300 }, async (s) => {
      const client = new grpc.Client(`127.0.0.1:${s.grpcPort}`, grpc.credentials.createInsecure());
      try {
        assert.equal((await grpcPredict(client)).code, GrpcCode.OK); // warm: one idle thread or two
        const threads = s.threads!;
        assert.equal(threads.threadStats().cap, null);
        assert.ok(await eventually(() => threads.threadStats().current <= 2));
        const idle = threads.threadStats();
        const osBefore = osThreads();
        const handlerPeak = samplePeak(() => threads.threadStats().current);
        const osPeak = samplePeak(osThreads);
        const flightPeak = samplePeak(() => s.metrics.inflight);
        const answers = await Promise.all(Array.from({ length: C }, () => grpcPredict(client)));
        assert.deepEqual(
          answers.filter((a) => a.code !== GrpcCode.OK),
          [],
          'every request answered OK',
        );
        // Threads answered early may have taken over requests; the threads the spike started
        // come up all the same.
        assert.ok(
          await eventually(() => threads.threadStats().starting === 0, 120_000),
          `threads still to come up: ${JSON.stringify(threads.threadStats())}`,
        );
        const [hPeak, oPeak, inFlight] = [handlerPeak.stop(), osPeak.stop(), flightPeak.stop()];
        // One thread per request that found no idle thread, plus the poller the last pickup left
        // (requests still being decoded count in flight before they reach a thread: 10% slack).
        const st = threads.threadStats();
        const started = st.created - idle.created;
        const need = Math.floor(0.9 * inFlight);
        t.diagnostic(
          `${inFlight} of ${C} in flight at once; ${started} threads started, handler threads peaked at ${hPeak}, OS threads ${osBefore} → ${oPeak}`,
        );
        assert.ok(
          started >= need - idle.current && started <= C + 1,
          `the pool started ${started} threads for ${inFlight} of ${C} requests in flight at once (${idle.current} idle before)`,
        );
        assert.ok(
          hPeak >= need && hPeak <= C + 2,
          `handler threads peaked at ${hPeak} with ${inFlight} requests in flight, expected ${need}–${C + 2}`,
        );
        // OS threads, with a tolerance: onnxruntime and libuv add or reuse a few of their own.
        assert.ok(
          oPeak - osBefore >= need,
          `OS threads went ${osBefore} → ${oPeak} with ${inFlight} requests in flight; expected about +${inFlight}`,
        );
        // Upstream churn: threads beyond the maximum pollers (2) exit once idle for the grace.
        assert.ok(
          await eventually(() => threads.threadStats().current <= 2, 30_000),
          `threads did not fall back: ${JSON.stringify(threads.threadStats())}`,
        );
        assert.ok(
          await eventually(() => osThreads() <= osBefore + 3, 30_000),
          `OS threads stayed at ${osThreads()} (before the spike: ${osBefore})`,
        );
        const after = threads.threadStats();
        assert.equal(after.created - after.exited, after.current);
      } finally {
        client.close();
      }
    });
  });
});

describe('patched (thread-cap): never above the cap, the excess refused at once', () => {
  it('gRPC gets RESOURCE_EXHAUSTED, REST gets 429 {"error"}, every request is answered, and the server serves after', async () => {
    const cap = 4;
    const delay = 1000;
    await withSpikeServer({ mode: 'patched', model_delay_ms: delay, grpc_max_threads: cap }, async (s) => {
      const threads = s.threads!;
      assert.equal(threads.threadStats().cap, cap);
      const client = new grpc.Client(`127.0.0.1:${s.grpcPort}`, grpc.credentials.createInsecure());
      try {
        const peak = samplePeak(() => threads.threadStats().current);
        // Each answer with how long it took from its own send.
        const timed = async <R>(send: () => Promise<R>): Promise<R & { ms: number }> => {
          const t = performance.now();
          const r = await send();
          return { ...r, ms: performance.now() - t };
        };
        const deadline = new Promise<never>((_, reject) =>
          setTimeout(() => reject(new Error('a request hung')), 10_000).unref(),
        );
        const [viaGrpc, viaRest] = await Promise.race([
          Promise.all([
            Promise.all(Array.from({ length: 16 }, () => timed(() => grpcPredict(client)))),
            Promise.all(Array.from({ length: 8 }, () => timed(() => restPredict(s)))),
          ]),
          deadline,
        ]);
        assert.ok(peak.stop() <= cap, 'handler threads went above the cap');
        assert.ok(threads.threadStats().peak <= cap);
        assert.equal(viaGrpc.length + viaRest.length, 24, 'every request answered');
        for (const r of viaGrpc) {
          assert.ok(
            r.code === GrpcCode.OK || r.code === GrpcCode.RESOURCE_EXHAUSTED,
            `unexpected gRPC status ${r.code}: ${r.details}`,
          );
          if (r.code !== GrpcCode.OK) assert.match(r.details, /--grpc_max_threads 4/);
        }
        for (const r of viaRest) {
          assert.ok(r.status === 200 || r.status === 429, `unexpected HTTP status ${r.status}`);
          if (r.status === 429) assert.equal(typeof r.body.error, 'string');
        }
        const ok =
          viaGrpc.filter((r) => r.code === GrpcCode.OK).length + viaRest.filter((r) => r.status === 200).length;
        assert.ok(
          ok >= 1 && ok <= 24 - 8,
          `ok ${ok}: with ${cap} threads and ${delay} ms each, most of 24 simultaneous requests must be refused`,
        );
        assert.ok(viaGrpc.some((r) => r.code === GrpcCode.RESOURCE_EXHAUSTED) && viaRest.some((r) => r.status === 429));
        // Refused at once, not queued: a request is refused when all cap threads hold one, so
        // every refusal comes before the last of those is answered (a service time after it
        // began). A request queued and refused later would come after it. No clock is compared
        // with the service time: booting the threads may take seconds on a busy runner.
        const ms = (r: { ms: number }) => r.ms;
        const lastOk = Math.max(
          ...viaGrpc.filter((r) => r.code === GrpcCode.OK).map(ms),
          ...viaRest.filter((r) => r.status === 200).map(ms),
        );
        const lastRefused = Math.max(
          ...viaGrpc.filter((r) => r.code !== GrpcCode.OK).map(ms),
          ...viaRest.filter((r) => r.status !== 200).map(ms),
        );
        assert.ok(
          lastRefused < lastOk,
          `a refusal came ${Math.round(lastRefused)} ms after its send, after the last answer served (${Math.round(lastOk)} ms): it was queued`,
        );
        assert.equal((await grpcPredict(client)).code, GrpcCode.OK);
        assert.equal((await restPredict(s)).status, 200);
        const metrics = await s.metrics.text();
        assert.match(metrics, /leakscope_rejected_requests_total\{transport="grpc",reason="thread-cap"\} [1-9]/);
        // TF Serving's names see the same refusals, and time only the Predicts that ran.
        assert.match(
          metrics,
          /^:tensorflow:serving:request_count\{model_name="ctr",status="RESOURCE_EXHAUSTED"\} [1-9]/m,
        );
        assert.match(
          metrics,
          new RegExp(`^:tensorflow:serving:request_count\\{model_name="ctr",status="OK"\\} ${ok + 2}$`, 'm'),
        );
        assert.match(
          metrics,
          /^:tensorflow:serving:request_latency_count\{model_name="ctr",API="Predict",entrypoint="GRPC"\} [1-9]/m,
        );
      } finally {
        client.close();
      }
    });
  });
});

describe('HandlerThreadRunner', () => {
  // Two rows, mixed int64/float32 (packing must keep 8-byte alignment), values differing per feature.
  const feeds = (): Record<string, HostTensor> =>
    Object.fromEntries(
      FEATURES.map((f, i) => [
        f.name,
        f.dtype === 'int64'
          ? { dtype: 'int64', dims: [2, 1], data: BigInt64Array.of(BigInt(i + 1), BigInt(3 * i)) }
          : { dtype: 'float32', dims: [2, 1], data: Float32Array.of(0.5, i / 7) },
      ]),
    );

  it('idle grace: 0 exits surplus threads at once (upstream); a grace keeps them for the next burst', async () => {
    await withTmpDir('leakscope-threads-', async (dir) => {
      const [written] = await writeModelVersions(join(dir, 'ctr'), { features: 10, versions: [1] });
      const servable = await onnxLoader.load('ctr', 1, written!.path);
      const burst = (r: HandlerThreadRunner) =>
        Promise.all(Array.from({ length: 4 }, () => r.run(servable, feeds(), ['prob'])));
      const upstream = new HandlerThreadRunner({
        admission: UNCAPPED_ADMISSION,
        minIdleThreads: 1,
        idleGraceMs: 0,
        modelDelayMs: 200,
      });
      const graced = new HandlerThreadRunner({
        admission: UNCAPPED_ADMISSION,
        minIdleThreads: 1,
        idleGraceMs: 60_000,
        modelDelayMs: 200,
      });
      try {
        await Promise.all([burst(upstream), burst(graced)]);
        // Each pickup that leaves no poller starts one: up to 4 working threads + 1 poller
        // (fewer when a thread finishes before the next one is up and takes the work).
        const gracedCreated = graced.threadStats().created;
        assert.ok(gracedCreated >= 3 && gracedCreated <= 5, `graced runner started ${gracedCreated} threads`);
        assert.ok(
          await eventually(() => upstream.threadStats().current === 2),
          `upstream keeps the maximum pollers (2): ${JSON.stringify(upstream.threadStats())}`,
        );
        assert.equal(upstream.threadStats().idle, 2);
        assert.ok(
          await eventually(() => graced.threadStats().idle === gracedCreated),
          'graced threads all wait for work',
        );
        const before = upstream.threadStats().created;
        await Promise.all([burst(upstream), burst(graced)]);
        assert.ok(upstream.threadStats().created - before >= 2, 'upstream starts threads again for the next burst');
        assert.ok(
          graced.threadStats().created - gracedCreated <= 1,
          `graced threads serve the next burst (started ${graced.threadStats().created - gracedCreated} more)`,
        );
      } finally {
        await Promise.all([upstream.close(), graced.close()]);
        await onnxLoader.unload(servable);
      }
    });
  });

  it('idle grace: a load that keeps needing the surplus keeps it (no thread churn); once the load stops, it goes after the grace', async () => {
    await withTmpDir('leakscope-threads-', async (dir) => {
      const [written] = await writeModelVersions(join(dir, 'ctr'), { features: 10, versions: [1] });
      const servable = await onnxLoader.load('ctr', 1, written!.path);
      const grace = 700;
      const runner = new HandlerThreadRunner({
        admission: UNCAPPED_ADMISSION,
        minIdleThreads: 1,
        idleGraceMs: grace,
        modelDelayMs: 60,
      });
      const one = () => runner.run(servable, feeds(), ['prob']);
      try {
        // One caller all the time, and every 300 ms a burst of four more: the front threads
        // take the steady work, the back ones only the bursts, yet all are needed.
        let steady = true;
        const caller = (async () => {
          while (steady) await one();
        })();
        await Promise.all(Array.from({ length: 5 }, one));
        // Churn is a thread exiting while the load still needs it (and another starting in its
        // place). How many the first burst starts depends on how fast isolates boot, so the
        // pool may still grow in the next bursts: growth is fine, exits are not.
        const exited = runner.threadStats().exited;
        for (let i = 0; i < 8; i++) {
          await new Promise((r) => setTimeout(r, 300));
          await Promise.all(Array.from({ length: 4 }, one));
        }
        steady = false;
        await caller;
        const st = runner.threadStats();
        assert.equal(
          st.exited - exited,
          0,
          `threads churned under a recurring load: ${st.exited - exited} exited while the bursts still needed them (${JSON.stringify(st)})`,
        );
        assert.ok(st.current >= 4, `the pool the bursts need was let go: ${JSON.stringify(st)}`);
        const stopped = performance.now();
        assert.ok(
          await eventually(() => runner.threadStats().current === 2),
          `surplus threads stayed after the load stopped: ${JSON.stringify(runner.threadStats())}`,
        );
        assert.ok(performance.now() - stopped >= grace * 0.9, 'the surplus left before the grace was out');
      } finally {
        await runner.close();
        await onnxLoader.unload(servable);
      }
    });
  });

  it('survives a crashing thread: that request fails LS_ERR_INFERENCE, the next gets a new thread; close leaves no threads', async () => {
    await withTmpDir('leakscope-threads-', async (dir) => {
      const [written] = await writeModelVersions(join(dir, 'ctr'), { features: 10, versions: [1] });
      const servable = await onnxLoader.load('ctr', 1, written!.path);
      const osBefore = osThreads();
      const runner = new HandlerThreadRunner({
        admission: UNCAPPED_ADMISSION,
        minIdleThreads: 1,
        modelDelayMs: 0,
        workerUrl: new URL('../helpers/crash-worker.js', import.meta.url),
      });
      try {
        const inputs = feeds();
        const out = await runner.run(servable, inputs, ['prob']);
        assert.deepEqual(out.prob!.dims, [2, 1]);
        const inline = await onnxLoader.load('ctr', 1, written!.path);
        try {
          const expected = await runSession(inline.session, feeds(), ['prob']);
          assert.deepEqual(
            [...(out.prob!.data as Float32Array)],
            [...(expected.prob!.data as Float32Array)],
            'same answer as the model run inline',
          );
        } finally {
          await onnxLoader.unload(inline);
        }
        assert.notEqual(out.prob!.data[0], out.prob!.data[1]);
        assert.equal((inputs.user_age!.data as Float32Array)[0], 0.5, "the caller's input buffers are not detached");
        const createdBefore = runner.threadStats().created;
        await assert.rejects(
          runner.run(servable, feeds(), ['no_such_output']),
          (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_INFERENCE' && /no_such_output/.test(e.message),
        );
        const bad = feeds();
        bad.user_age = { dtype: 'float32', dims: [3, 1], data: Float32Array.of(1, 2, 3) };
        await assert.rejects(
          runner.run(servable, bad, ['prob']),
          (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_INFERENCE',
        );
        assert.equal(runner.threadStats().created, createdBefore, 'an onnxruntime error does not cost the thread');
        const crash = feeds();
        crash.user_age = { dtype: 'float32', dims: [2, 1], data: Float32Array.of(-7777, 0) };
        await assert.rejects(
          runner.run(servable, crash, ['prob']),
          (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_INFERENCE' && /died/.test(e.message),
        );
        assert.ok(await eventually(() => runner.threadStats().exited === 1), 'the crashed thread is gone');
        const again = await runner.run(servable, feeds(), ['prob']);
        assert.equal(again.prob!.data[0], out.prob!.data[0]);
        assert.ok(runner.threadStats().current >= 1);
        runner.dropServable(servable);
        assert.equal(
          (await runner.run(servable, feeds(), ['prob'])).prob!.data[0],
          out.prob!.data[0],
          'a dropped session reloads on demand',
        );
        assert.ok(runner.listThreads().length >= 1);
      } finally {
        await runner.close();
      }
      assert.deepEqual(runner.threadStats().current, 0);
      await assert.rejects(
        runner.run(servable, feeds(), ['prob']),
        (e: unknown) => e instanceof LsError && e.code === 'LS_ERR_SHUTTING_DOWN',
      );
      await onnxLoader.unload(servable);
      // +1: onnxruntime's first load in the process may leave one native thread of its own.
      assert.ok(
        await eventually(() => osThreads() <= osBefore + 1),
        `OS threads ${osThreads()} after close, ${osBefore} before`,
      );
    });
  });
});
