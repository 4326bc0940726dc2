/**
 * The environment a handler thread starts with: this process's, without NODE_OPTIONS.
 *
 * NODE_OPTIONS is where process-wide tools put their preloads (Clinic.js Doctor's sampler,
 * its heap profiler's IPC, APM agents). A worker_thread that inherits NODE_OPTIONS runs those
 * preloads again, and the tools key their files by pid — the same in every thread — so each
 * handler thread's copy truncated and rewrote the main thread's data: under `clinic doctor`
 * the processstat file became undecodable and the HTML report stopped after its first lines.
 * The preloads cannot be filtered out alone: a worker given NODE_OPTIONS explicitly refuses
 * process-level options such as `--trace-events-enabled` ("not allowed in NODE_OPTIONS"), and
 * nothing else in NODE_OPTIONS changes a worker (its heap limit is its own resourceLimits).
 * The command line's options still reach the threads (Worker's execArgv default).
 */

/**
 * The handler threads' environment.
 * @example new Worker(url, { env: handlerThreadEnv() })
 */
export function handlerThreadEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _preloads, ...rest } = env;
  return rest;
}
