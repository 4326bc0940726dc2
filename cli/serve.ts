/** `leakscope serve`: the reference server, TF Serving's flags, leaky or patched. */
import { DIAGNOSTICS_HOST } from '../common/diagnostics-api.js';
import { LsError } from '../common/errors.js';
import { formatListening, type ServeListeningEvent } from '../common/listening-event.js';
import { ALL_FIXES } from '../common/fixes.js';
import { checkRemovableFolder, removeOnExit, watchParent, watchPid } from '../server/lifetime.js';
import type { RawServerOptions } from '../server/options.js';
import { bool, type Command, str, stringOption } from './command.js';

const s = stringOption;

export const serveCommand: Command = {
  name: 'serve',
  summary: 'Run the reference model server (TF Serving gRPC + REST APIs on onnxruntime)',
  usage:
    'serve [--model_name NAME --model_base_path DIR | --model_config_file FILE] [--mode leaky|patched | --fixes LIST] [options]',
  description:
    'Serves ONNX models from TF Serving-style base paths (numeric version folders, polled for new\n' +
    'versions). Without a model, builds and serves the built-in CTR model (10 features).\n' +
    `--mode leaky reproduces both production leaks; --mode patched (default) turns on every fix;\n` +
    `--fixes picks a subset of: ${ALL_FIXES.join(', ')}.\n` +
    'Ports 0 pick free ports; the bound addresses are logged. SIGINT/SIGTERM shut down gracefully.',
  options: {
    host: s('Address to bind (default 127.0.0.1: loopback only)', 'ADDR'),
    port: s('gRPC port (default 8500)', 'PORT'),
    rest_api_port: s('REST port (default 8501)', 'PORT'),
    model_name: s('Name of the single served model (default "default")', 'NAME'),
    model_base_path: s("Folder holding the model's numeric version folders", 'DIR'),
    model_config_file: s(
      'JSON model config: {"model_config_list": [{"name", "base_path", "model_version_policy"?}]}',
      'FILE',
    ),
    allowed_model_roots: s(
      'Comma-separated folders HandleReloadConfigRequest may point base paths into (default: the folders holding the start-up base paths)',
      'DIRS',
    ),
    file_system_poll_wait_seconds: s(
      'Seconds between scans of the base paths for new versions (default 1; 0 = never)',
      'S',
    ),
    mode: s('leaky (no fixes) or patched (all fixes; default)', 'MODE'),
    fixes: s(`Comma-separated fixes to turn on (instead of --mode): ${ALL_FIXES.join(',')}`, 'LIST'),
    grpc_max_threads: s('Handler thread cap with the thread-cap fix (default 4 x CPUs)', 'N'),
    'model-delay-ms': s('Extra service time per Predict, to make a spike pile up requests (default 0)', 'MS'),
    max_message_bytes: s('Largest request accepted on either transport (default 4 MiB)', 'BYTES'),
    'max-request-elements': s(
      'Most elements over all inputs of one request, counted from declared shapes before allocating (default 8 Mi)',
      'N',
    ),
    'max-request-bytes': s(
      'Most bytes over all inputs of one request, from declared shapes and dtypes (default 64 MiB)',
      'BYTES',
    ),
    'max-inflight-request-bytes': s(
      'Most input bytes of all requests in flight at once; past it RESOURCE_EXHAUSTED / 429 (default 512 MiB)',
      'BYTES',
    ),
    'executor-cache-size': s('LRU bound of the executor cache with the bounded-cache fix (default 64)', 'N'),
    'min-idle-threads': s('Idle handler threads kept, like gRPC min pollers (default 1)', 'N'),
    'idle-thread-grace-ms': s(
      'How long a surplus idle handler thread waits for work before exiting (default 1000; 0 = at once, as upstream, which thrashes)',
      'MS',
    ),
    'max-booting-threads': s(
      'Handler threads booting their isolate at once at normal priority (default: the CPU count)',
      'N',
    ),
    'background-boots': s(
      'auto: the threads a spike starts past --max-booting-threads are created at once and boot at the lowest CPU priority (Linux, where the server may raise them back); off: they wait their turn to be created (default auto)',
      'auto|off',
    ),
    diagnostics: { type: 'boolean', description: 'Serve the diagnostics interface (loopback only)' },
    'diagnostics-port': s('Diagnostics port, always bound on 127.0.0.1 (default 0: a free port, logged)', 'PORT'),
    'diagnostics-dir': s(
      'Folder heap snapshots are written into, 0700, files 0600; refused if a symlink or not yours (default: a private folder made per server under $XDG_RUNTIME_DIR or the temp dir)',
      'DIR',
    ),
    'diagnostics-max-captures': s('Heap snapshots and allocation profiles one server may write (default 50)', 'N'),
    'diagnostics-max-capture-bytes': s('Bytes those captures may add up to (default 4 GiB)', 'BYTES'),
    'diagnostics-min-free-bytes': s('Free disk kept after a capture of the estimated size (default 1 GiB)', 'BYTES'),
    'log-level': s('fatal|error|warn|info|debug|trace|silent (default info)', 'LEVEL'),
    'exit-with-parent': {
      type: 'boolean',
      description: 'Shut down when stdin (a pipe the parent holds open) ends: the spawning process died',
    },
    'exit-with-pid': s(
      'Shut down when process PID is gone (for a spawner whose wrapper, such as Clinic.js, passes no stdin pipe on)',
      'PID',
    ),
    'remove-on-exit': s(
      'A leakscope-* folder in the temp dir (the model folder a parent made) to remove whenever the server exits',
      'DIR',
    ),
  },
  examples: [
    'leakscope serve',
    'leakscope serve --mode leaky --model-delay-ms 50',
    'leakscope models build --out /tmp/models/ctr --versions 1,2 && leakscope serve --model_name ctr --model_base_path /tmp/models/ctr',
    'leakscope serve --fixes sort-inputs,thread-cap --port 0 --rest_api_port 0',
  ],
  async run(args, io) {
    const { startServer } = await import('../server/server.js');
    const raw: RawServerOptions = {
      host: str(args, 'host'),
      port: str(args, 'port'),
      rest_api_port: str(args, 'rest_api_port'),
      model_name: str(args, 'model_name'),
      model_base_path: str(args, 'model_base_path'),
      model_config_file: str(args, 'model_config_file'),
      allowed_model_roots: str(args, 'allowed_model_roots'),
      file_system_poll_wait_seconds: str(args, 'file_system_poll_wait_seconds'),
      mode: str(args, 'mode'),
      fixes: str(args, 'fixes'),
      grpc_max_threads: str(args, 'grpc_max_threads'),
      model_delay_ms: str(args, 'model-delay-ms'),
      max_message_bytes: str(args, 'max_message_bytes'),
      max_request_elements: str(args, 'max-request-elements'),
      max_request_bytes: str(args, 'max-request-bytes'),
      max_inflight_request_bytes: str(args, 'max-inflight-request-bytes'),
      executor_cache_size: str(args, 'executor-cache-size'),
      min_idle_threads: str(args, 'min-idle-threads'),
      idle_thread_grace_ms: str(args, 'idle-thread-grace-ms'),
      max_booting_threads: str(args, 'max-booting-threads'),
      background_boots: str(args, 'background-boots'),
      diagnostics: bool(args, 'diagnostics'),
      diagnostics_port: str(args, 'diagnostics-port'),
      diagnostics_dir: str(args, 'diagnostics-dir'),
      diagnostics_max_captures: str(args, 'diagnostics-max-captures'),
      diagnostics_max_capture_bytes: str(args, 'diagnostics-max-capture-bytes'),
      diagnostics_min_free_bytes: str(args, 'diagnostics-min-free-bytes'),
      log_level: str(args, 'log-level'),
    };
    if (args.positionals.length) throw new LsError('LS_ERR_USAGE', `unexpected argument '${args.positionals[0]}'`);
    const removeDir = str(args, 'remove-on-exit');
    if (removeDir !== undefined) removeOnExit(checkRemovableFolder(removeDir));
    // Until the server is up, a parent's death just ends the process (the exit hook still cleans up).
    let onParentGone = (): void => process.exit(1);
    const unwatchPipe = bool(args, 'exit-with-parent') ? watchParent(() => onParentGone()) : () => undefined;
    const parentPid = str(args, 'exit-with-pid');
    const unwatchPid = parentPid !== undefined ? watchPid(parentPid, () => onParentGone()) : () => undefined;
    const unwatch = () => {
      unwatchPipe();
      unwatchPid();
    };
    const server = await startServer(raw);
    // Always printed, whatever the log level: scripts and the scenario runner read the ports here.
    const listening: Omit<ServeListeningEvent, 'event'> = {
      grpc: `${server.host}:${server.grpcPort}`,
      rest: `${server.host}:${server.restPort}`,
      diagnostics: server.diagnosticsPort === undefined ? null : `${DIAGNOSTICS_HOST}:${server.diagnosticsPort}`,
      mode: server.options.fixes.mode,
      fixes: [...server.options.fixes.fixes],
      pid: process.pid,
    };
    io.stdout.write(formatListening(listening));
    await new Promise<void>((resolve) => {
      const stop = (sig: string) => {
        server.log.info(
          { signal: sig },
          sig === 'parent' ? 'the parent process is gone: shutting down' : 'signal received',
        );
        process.off('SIGINT', onInt);
        process.off('SIGTERM', onTerm);
        unwatch();
        server.close().then(resolve, resolve);
      };
      const onInt = () => stop('SIGINT');
      const onTerm = () => stop('SIGTERM');
      onParentGone = () => stop('parent');
      process.on('SIGINT', onInt);
      process.on('SIGTERM', onTerm);
    });
    return 0;
  },
};
