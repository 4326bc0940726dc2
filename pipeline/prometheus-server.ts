/**
 * A real Prometheus on this machine, for the fleet demo, the fleet benchmark and the
 * tests: Debian's `prometheus` started as a plain process (no systemd) with a generated
 * config, its own data folder and a free loopback port; `promtool tsdb
 * create-blocks-from openmetrics` to backfill a synthetic fleet before it starts.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { promisify } from 'node:util';
import { LsError } from '../common/errors.js';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMTOOL_BIN = '/usr/bin/promtool';

/** Why Prometheus cannot be used here, or null when it can (tests skip with this message). */
export function prometheusMissing(): string | null {
  for (const bin of [PROMETHEUS_BIN, PROMTOOL_BIN])
    if (!existsSync(bin)) return `${bin} not found (apt-get install prometheus; .ci/run installs it)`;
  return null;
}

/** A free TCP port on loopback (bound and released; Prometheus takes it a moment later). */
export function freeLoopbackPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface ScrapeJob {
  readonly job: string;
  readonly metricsPath?: string;
  /** host:port targets, each with extra labels (e.g. track: leaky). */
  readonly targets: readonly { readonly address: string; readonly labels?: Readonly<Record<string, string>> }[];
}

export interface PrometheusOptions {
  /** TSDB folder (may already hold backfilled blocks). */
  readonly dataDir: string;
  /** Where the generated config is written (default: dataDir + '.yml'). */
  readonly configFile?: string;
  readonly scrapeIntervalSeconds?: number;
  readonly jobs?: readonly ScrapeJob[];
  readonly startTimeoutMs?: number;
}

export interface PrometheusServer {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything Prometheus wrote to stderr (its log), for failure messages. */
  readonly log: string[];
  /** SIGTERM, SIGKILL after 10 s; resolves when the process is gone. */
  stop(): Promise<void>;
}

/** The scrape config, as YAML (JSON is YAML). */
export function prometheusConfig(jobs: readonly ScrapeJob[], intervalSeconds: number): string {
  return JSON.stringify(
    {
      global: {
        scrape_interval: `${intervalSeconds}s`,
        scrape_timeout: `${Math.max(500, intervalSeconds * 1000 - 500)}ms`,
      },
      scrape_configs: jobs.map((j) => ({
        job_name: j.job,
        metrics_path: j.metricsPath ?? '/metrics',
        static_configs: j.targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} })),
      })),
    },
    null,
    2,
  );
}

/**
 * Starts Prometheus and waits until /-/ready answers.
 * @example const p = await startPrometheus({ dataDir }); …; await p.stop();
 */
export async function startPrometheus(o: PrometheusOptions): Promise<PrometheusServer> {
  const missing = prometheusMissing();
  if (missing) throw new LsError('LS_ERR_PROMETHEUS', missing);
  const configFile = o.configFile ?? `${o.dataDir}.yml`;
  await writeFile(configFile, prometheusConfig(o.jobs ?? [], o.scrapeIntervalSeconds ?? 15));
  const port = await freeLoopbackPort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(
    PROMETHEUS_BIN,
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${o.dataDir}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--storage.tsdb.retention.time=30d',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const log: string[] = [];
  child.stderr!.on('data', (d) => log.push(String(d)));
  const stop = () =>
    new Promise<void>((r) => {
      if (child.exitCode !== null || child.signalCode !== null) return r();
      child.once('exit', () => r());
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    });
  const deadline = Date.now() + (o.startTimeoutMs ?? 30_000);
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      throw new LsError('LS_ERR_PROMETHEUS', `prometheus exited with ${child.exitCode}: ${log.join('').slice(-2000)}`);
    const ready = await fetch(`${url}/-/ready`)
      .then((r) => r.ok)
      .catch(() => false);
    if (ready) return { url, child, log, stop };
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop();
  throw new LsError('LS_ERR_PROMETHEUS', `prometheus did not get ready at ${url}: ${log.join('').slice(-2000)}`);
}

/**
 * Writes TSDB blocks into `dataDir` from an OpenMetrics file (`# EOF`-terminated, samples
 * with timestamps in seconds) with promtool, before Prometheus starts on that folder.
 * @example await backfill('fleet.om', join(dir, 'data'))
 */
export async function backfill(openMetricsFile: string, dataDir: string): Promise<void> {
  try {
    await promisify(execFile)(PROMTOOL_BIN, ['tsdb', 'create-blocks-from', 'openmetrics', openMetricsFile, dataDir], {
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new LsError(
      'LS_ERR_PROMETHEUS',
      `promtool could not backfill ${openMetricsFile}: ${(err.stderr || err.message).slice(-2000)}`,
    );
  }
}
