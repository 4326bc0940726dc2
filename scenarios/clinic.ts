/**
 * Clinic.js (`clinic doctor` | `clinic heapprofiler`, npm `clinic` 13) around a spawned
 * reference server: which `clinic` runs, how it is started, and whether the HTML report it
 * wrote is whole. targets.ts starts and stops the wrapped server; run-target.ts records the
 * outcome in the manifest (`clinic`, and `artifacts.clinic` only when the report is whole).
 *
 * What Clinic.js 13 does that this relies on (read in its sources, checked by
 * test/scenarios/clinic-real.test.ts against the real thing):
 * - It starts `node <args>` with its samplers preloaded through NODE_OPTIONS, collects until
 *   the program exits, then analyses and writes `<dest>/<pid>.clinic-<tool>.html`: tens of
 *   seconds of work after the program is gone. The run must wait for Clinic's own exit.
 * - It expects Ctrl-C: the terminal sends SIGINT to the whole group. Doctor relays a SIGINT
 *   it receives to the program; Heap Profiler ignores it in the parent and counts on the
 *   program receiving its own. So the program (the server) is sent SIGINT, not the wrapper.
 * - Doctor writes node_trace.*.log into the working folder and refuses to start where one is
 *   left: each run's Clinic works in the run's own clinic/ folder.
 * - Its last act is to append `<!-- {"tool","toolVersion","hash"} -->`, the sha512 of
 *   "clinic\n" and the HTML before it: the mark that the report was written to the end.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { LsError } from '../common/errors.js';
import { packageRoot } from '../common/package-root.js';

export const CLINIC_TOOLS = ['doctor', 'heapprofiler'] as const;
export type ClinicTool = (typeof CLINIC_TOOLS)[number];

/** The name each tool gives itself in the report's trailer. */
const TRAILER_TOOL: Readonly<Record<ClinicTool, string>> = { doctor: 'doctor', heapprofiler: 'heap-profiler' };

/** A `clinic` found on this machine. */
export interface ClinicInstall {
  /** The CLI's script (the .bin link resolved). */
  readonly bin: string;
  /** From the package.json beside it, when that is Clinic's. */
  readonly version?: string;
}

export interface ClinicLookup {
  /** A `clinic` to use and no other (default: $LEAKSCOPE_CLINIC). */
  readonly clinic?: string;
  /** Folders whose node_modules/.bin is searched first (default: this package's, then the working folder's). */
  readonly roots?: readonly string[];
  /** PATH, searched after them (default: this process's). */
  readonly path?: string;
}

/**
 * Finds `clinic`: $LEAKSCOPE_CLINIC when set (that one or none), else this package's own
 * node_modules (a devDependency, so a clone has it), the working folder's project, then PATH.
 * @example findClinic()?.bin // '/…/node_modules/clinic/bin.js'
 */
export function findClinic(o: ClinicLookup = {}): ClinicInstall | undefined {
  const only = o.clinic ?? process.env.LEAKSCOPE_CLINIC;
  const roots = o.roots ?? [packageRoot(), process.cwd()];
  const candidates = only
    ? [only]
    : [
        ...roots.map((r) => join(r, 'node_modules', '.bin', 'clinic')),
        ...(o.path ?? process.env.PATH ?? '')
          .split(':')
          .filter(Boolean)
          .map((d) => join(d, 'clinic')),
      ];
  const found = candidates.find((c) => existsSync(c));
  if (found === undefined) return undefined;
  const bin = realpathSync(found);
  let version: string | undefined;
  try {
    const pkg = JSON.parse(readFileSync(join(dirname(bin), 'package.json'), 'utf8')) as {
      name?: string;
      version?: string;
    };
    if (pkg.name === 'clinic' && typeof pkg.version === 'string') version = pkg.version;
  } catch {
    // A clinic without its package.json beside it (a wrapper script): version unknown.
  }
  return { bin, ...(version ? { version } : {}) };
}

/** How to start the server under Clinic.js. */
export interface ClinicCommand {
  readonly tool: ClinicTool;
  readonly install: ClinicInstall;
  /** The command before `node <server args>`. */
  readonly wrapper: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Clinic's working folder (where Doctor writes node_trace.*.log): the run's clinic/ folder. */
  readonly cwd: string;
}

/**
 * The wrapper for `--clinic doctor|heapprofiler` writing into `dest`; a clear error when the
 * tool is unknown or Clinic.js is not installed. Its telemetry and update check are off.
 * @example clinicCommand('doctor', 'runs/x/clinic').wrapper // [node, '…/clinic/bin.js', 'doctor', '--open=false', …]
 */
export function clinicCommand(tool: string, dest: string, lookup?: ClinicLookup): ClinicCommand {
  if (!(CLINIC_TOOLS as readonly string[]).includes(tool))
    throw new LsError('LS_ERR_INVALID_OPTION', `--clinic: expected ${CLINIC_TOOLS.join(' or ')}, got '${tool}'`);
  const install = findClinic(lookup);
  const only = lookup?.clinic ?? process.env.LEAKSCOPE_CLINIC;
  if (!install && only)
    throw new LsError('LS_ERR_INVALID_OPTION', `--clinic: LEAKSCOPE_CLINIC names ${only}, which does not exist`);
  if (!install)
    throw new LsError(
      'LS_ERR_INVALID_OPTION',
      '--clinic: Clinic.js is not installed (it is a devDependency of leakscope: `npm ci` in a clone; in another project `npm install --save-dev clinic@13`), or not on PATH',
    );
  const run = install.bin.endsWith('.js') ? [process.execPath, install.bin] : [install.bin];
  return {
    tool: tool as ClinicTool,
    install,
    wrapper: [...run, tool, '--open=false', '--dest', dest, '--'],
    env: { ...process.env, NO_INSIGHT: 'true', NO_UPDATE_NOTIFIER: '1' },
    cwd: dest,
  };
}

/** Whether a Clinic.js report is whole; why not otherwise. */
export type HtmlCheck =
  | { readonly ok: true; readonly bytes: number }
  | { readonly ok: false; readonly bytes: number; readonly reason: string };

const TRAILER = /<!-- (\{[^\n]*\}) -->\n?$/;

/**
 * Checks the HTML report Clinic.js wrote: its trailer and hash (written last), the closing
 * tags, and the tool's data embedded in it (Doctor's trace events, process stats and
 * analysis; Heap Profiler's allocation tree).
 * @example checkClinicHtml('runs/x/clinic/123.clinic-doctor.html', 'doctor').ok
 */
export function checkClinicHtml(file: string, tool: ClinicTool): HtmlCheck {
  if (!existsSync(file)) return { ok: false, bytes: 0, reason: `no HTML report at ${file}` };
  const buf = readFileSync(file);
  const bytes = buf.length;
  const bad = (reason: string): HtmlCheck => ({ ok: false, bytes, reason: `${file} (${bytes} bytes): ${reason}` });
  const text = buf.toString('utf8');
  const m = TRAILER.exec(text);
  if (!m) return bad('cut short: no trailer, which Clinic.js appends once the report is written to the end');
  let trailer: { tool?: unknown; hash?: unknown };
  try {
    trailer = JSON.parse(m[1]!) as typeof trailer;
  } catch {
    return bad('its trailer is not JSON');
  }
  if (trailer.tool !== TRAILER_TOOL[tool])
    return bad(`its trailer names tool '${String(trailer.tool)}', not ${TRAILER_TOOL[tool]}`);
  // The hash covers the bytes before the trailer (m.index counts UTF-16 units, not bytes).
  const body = buf.subarray(0, buf.lastIndexOf('<!-- {'));
  const hash = createHash('sha512').update('clinic\n').update(body).digest('hex');
  if (trailer.hash !== hash)
    return bad('the HTML does not match the hash in its trailer (written in part, or changed since)');
  const html = text.slice(0, m.index).trimEnd();
  if (!html.endsWith('</html>') || !html.includes('</body>')) return bad('no closing </body></html>');
  const data = tool === 'doctor' ? doctorData(html) : heapProfilerData(html);
  return data === undefined ? { ok: true, bytes } : bad(data);
}

/** Doctor's data: `<script type="application/json" id="clinic-data">`; undefined when it is there. */
function doctorData(html: string): string | undefined {
  const m = /<script type="application\/json" id="clinic-data">([\s\S]*?)<\/script>/.exec(html);
  if (!m) return 'no embedded data (script#clinic-data)';
  let d: { traceEvent?: unknown; processStat?: unknown; analysis?: unknown };
  try {
    d = JSON.parse(m[1]!) as typeof d;
  } catch (e) {
    return `its embedded data is not JSON (${(e as Error).message})`;
  }
  if (!Array.isArray(d.processStat) || d.processStat.length === 0) return 'its embedded data has no process samples';
  if (!Array.isArray(d.traceEvent)) return 'its embedded data has no trace events';
  if (typeof d.analysis !== 'object' || d.analysis === null) return 'its embedded data has no analysis';
  return undefined;
}

/** Heap Profiler's data: the bundle's data module, one line `module.exports={"appName"…}`. */
function heapProfilerData(html: string): string | undefined {
  const start = html.indexOf('module.exports={"appName"');
  if (start < 0) return 'no embedded allocation data (module.exports={"appName"…)';
  const end = html.indexOf('\n', start);
  let d: { data?: { isRoot?: unknown; children?: unknown } };
  try {
    d = JSON.parse(html.slice(start + 'module.exports='.length, end < 0 ? undefined : end)) as typeof d;
  } catch (e) {
    return `its embedded allocation data is not JSON (${(e as Error).message})`;
  }
  if (d.data?.isRoot !== true || !Array.isArray(d.data.children)) return 'its embedded allocation data has no root';
  return undefined;
}

/** The HTML report Clinic.js writes for a server pid. */
export function clinicHtmlName(pid: number, tool: ClinicTool): string {
  return `${pid}.clinic-${tool}.html`;
}
