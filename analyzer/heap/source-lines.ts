/**
 * The statement behind a leak group, not only its function. A sampling heap profile names
 * functions (their first line), a snapshot names closures (their definition): neither
 * says which line of `quoteFor` made the Quote that leaks, or which line put the socket
 * in `connections`. When the program's scripts can be read where the analysis runs (a
 * local file named by the profile's or the snapshot's script URL), one line is looked for:
 * - allocated: the statement that makes the group's class (`new Quote(`, `Buffer.alloc(`,
 *   `new Worker(`, `setInterval(`), inside the function the profile matched or, with no
 *   function matched, anywhere in the program's scripts;
 * - kept: the statement that stores into the structure holding the group (`connections.add(`,
 *   `backlog.push(`, `await flushed`), found through the holder's variable name.
 * A line is named only when exactly one line matches: two candidates (or none) say
 * nothing rather than guess. A closure member or a callback the members hold is already
 * exact (the snapshot's `locations`) and wins.
 */
import { readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { HeapAllocationSite, HeapCodeSite, HeapSourceLine } from '../../common/analysis-format.js';
import { type MatchedSite, matchAllocationSites, profileScripts, siteQuery } from './allocation-profile.js';

/** Scripts larger than this are not read (a bundle; its lines say little anyway). */
const MAX_SCRIPT_BYTES = 4 * 1024 * 1024;
/** A function's or class's body is scanned at most this many lines from its first. */
const MAX_BODY_LINES = 1000;
/** Source text shown with a line. */
const MAX_TEXT = 80;

/** Reads a script's lines by URL or path; null when it is not a readable local file. */
export type ScriptReader = (url: string) => readonly string[] | null;

/**
 * A reader of local scripts (file:// URLs and absolute paths), each read once.
 * @example scriptReader()('file:///srv/app.js')?.[11]
 */
export function scriptReader(): ScriptReader {
  const cache = new Map<string, readonly string[] | null>();
  return (url) => {
    let lines = cache.get(url);
    if (lines !== undefined) return lines;
    lines = null;
    try {
      const path = url.startsWith('file://') ? fileURLToPath(url) : url;
      if (path.startsWith('/') && /\.[cm]?[jt]s$/.test(path)) {
        const st = statSync(path);
        if (st.isFile() && st.size <= MAX_SCRIPT_BYTES) lines = readFileSync(path, 'utf8').split('\n');
      }
    } catch {
      lines = null;
    }
    cache.set(url, lines);
    return lines;
  };
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Node's and V8's classes made by a call rather than `new <Class>` in the program. */
const MADE_BY: Readonly<Record<string, string>> = {
  Buffer: String.raw`\bBuffer\s*\.\s*(?:alloc|allocUnsafe|allocUnsafeSlow|from|concat)\s*\(|\bnew\s+(?:Buffer|Uint8Array)\s*\(`,
  Uint8Array: String.raw`\bBuffer\s*\.\s*(?:alloc|allocUnsafe|allocUnsafeSlow|from|concat)\s*\(|\bnew\s+Uint8Array\s*\(`,
  ArrayBuffer: String.raw`\bnew\s+ArrayBuffer\s*\(`,
  Timeout: String.raw`\bset(?:Timeout|Interval)\s*\(`,
  Immediate: String.raw`\bsetImmediate\s*\(`,
  Worker: String.raw`\bnew\s+Worker\s*\(`,
  MessagePort: String.raw`\bnew\s+(?:Worker|MessageChannel)\s*\(`,
};

/**
 * Classes whose instances the program makes with literals or everywhere (`{}`, `[]`,
 * strings, closures, promises): no line can be said to make "the" one that leaks.
 */
const NO_CONSTRUCTOR = new Set(['Object', 'Array', 'Map', 'Set', 'Promise', 'Generator', 'Function', 'Error']);

/** The pattern of a statement that makes an instance of `className`, or null. */
export function allocationPattern(className: string): RegExp | null {
  const made = MADE_BY[className];
  if (made) return new RegExp(made);
  if (NO_CONSTRUCTOR.has(className) || !/^[A-Za-z_$][\w$]*$/.test(className)) return null;
  return new RegExp(String.raw`\bnew\s+${escapeRe(className)}\s*\(`);
}

/** The pattern of a statement that stores into (or waits on) a structure named `holder`, or null. */
export function keepPattern(holder: string): RegExp | null {
  if (!/^[A-Za-z_$][\w$]*$/.test(holder)) return null;
  const h = escapeRe(holder);
  return new RegExp(
    [
      String.raw`\b${h}\s*\??\.\s*(?:push|unshift|add|set|splice|append|enqueue|then|catch|finally|on|once|addListener|addEventListener)\s*\(`,
      String.raw`\b${h}\s*\[[^\]]+\]\s*=(?!=)`,
      String.raw`\bawait\s+${h}\b`,
    ].join('|'),
  );
}

/**
 * Line (1-based) of the closing brace of the function (or class) starting at `line`
 * (1-based), or the last line looked at.
 */
function functionEnd(lines: readonly string[], line: number, column = 1): number {
  let depth = 0;
  let opened = false;
  let quote = '';
  const last = Math.min(lines.length, line - 1 + MAX_BODY_LINES);
  for (let l = line - 1; l < last; l++) {
    const text = lines[l]!;
    for (let c = l === line - 1 ? Math.max(0, column - 1) : 0; c < text.length; c++) {
      const ch = text[c]!;
      if (quote) {
        if (ch === '\\') c++;
        else if (ch === quote) quote = '';
        continue;
      }
      if (ch === '/' && text[c + 1] === '/') break;
      if (ch === "'" || ch === '"' || ch === '`') quote = ch;
      else if (ch === '{') {
        depth++;
        opened = true;
      } else if (ch === '}' && --depth === 0 && opened) return l + 1;
    }
    // An arrow function without braces ends on its line.
    if (!opened && l === line - 1 && /=>\s*[^\s{]/.test(text.slice(Math.max(0, column - 1)))) return l + 1;
    if (quote !== '`') quote = '';
  }
  return last;
}

interface Hit {
  readonly url: string;
  readonly line: number;
  readonly text: string;
}

/** A line without its trailing `//` comment (one inside a string, e.g. a URL, stays). */
export function withoutComment(line: string): string {
  let quote = '';
  for (let c = 0; c < line.length; c++) {
    const ch = line[c]!;
    if (quote) {
      if (ch === '\\') c++;
      else if (ch === quote) quote = '';
    } else if (ch === "'" || ch === '"' || ch === '`') quote = ch;
    else if (ch === '/' && line[c + 1] === '/') return line.slice(0, c).trimEnd();
  }
  return line;
}

/** Lines matching `re` in [from, to] (1-based, inclusive) of a script, comments left out. */
function matches(url: string, lines: readonly string[], re: RegExp, from = 1, to = lines.length): Hit[] {
  const hits: Hit[] = [];
  for (let l = Math.max(1, from); l <= Math.min(to, lines.length); l++) {
    const code = withoutComment(lines[l - 1]!);
    if (/^\s*(\*|\/\*)/.test(code)) continue;
    if (re.test(code)) hits.push({ url, line: l, text: code.trim() });
  }
  return hits;
}

const clipText = (s: string): string => (s.length > MAX_TEXT ? `${s.slice(0, MAX_TEXT - 1)}…` : s);

/** What a group offers to find its statement. */
export interface LineQuery {
  readonly className: string;
  /** The variable or property holding the group's structure (`connections`), when it has a name. */
  readonly holder: string | null;
  /** The program class whose property the holder is (`UnboundedStore`), when known: stores are looked for in it first. */
  readonly holderClass?: string | null;
  readonly codeSites: readonly HeapCodeSite[];
  readonly allocationSites: readonly HeapAllocationSite[];
  /** The program's scripts (URLs) seen in the allocation profile, most bytes first. */
  readonly scripts: readonly string[];
}

const isProgram = (url: string): boolean => url !== '' && !url.startsWith('node:');

/**
 * The one line of the program that makes or keeps the group's objects, or null when no
 * single line can be named.
 * @example pinpointLine({ className: 'Quote', holder: 'responses', codeSites: [], allocationSites: [site], scripts }, scriptReader())
 */
export function pinpointLine(q: LineQuery, read: ScriptReader): HeapSourceLine | null {
  // Closures in the group, or a callback its members hold: the snapshot's own location.
  const callback = q.codeSites.find((s) => s.kind === 'callback' && isProgram(s.url));
  const member = q.className === '(closure)' ? q.codeSites.filter((s) => s.kind === 'closure').at(-1) : undefined;
  const exact = callback ?? (member && isProgram(member.url) ? member : undefined);
  if (exact) {
    const lines = read(exact.url);
    const line = lines?.[exact.line - 1];
    const text = line === undefined ? '' : withoutComment(line).trim();
    return {
      how: exact.kind,
      url: exact.url,
      line: exact.line,
      functionName: exact.functionName,
      ...(text ? { text: clipText(text) } : {}),
    };
  }
  const scripts = [
    ...new Set([
      ...q.allocationSites.map((s) => s.url),
      ...q.codeSites.filter((s) => s.kind === 'closure').map((s) => s.url),
      ...q.scripts,
    ]),
  ].filter(isProgram);
  const one = (hits: readonly Hit[]): Hit | null => (hits.length === 1 ? hits[0]! : null);
  const found = (h: Hit, how: HeapSourceLine['how'], functionName?: string): HeapSourceLine => ({
    how,
    url: h.url,
    line: h.line,
    ...(functionName ? { functionName } : {}),
    text: clipText(h.text),
  });
  // Allocated: in the function the profile matched (by constructor), else anywhere.
  const alloc = allocationPattern(q.className);
  if (alloc) {
    const site = q.allocationSites.find((s) => s.matchedBy === 'constructor' && isProgram(s.url));
    const lines = site ? read(site.url) : null;
    const inSite =
      site && lines ? one(matches(site.url, lines, alloc, site.line, functionEnd(lines, site.line))) : null;
    if (inSite) return found(inSite, 'allocated', site!.functionName);
    // The only statement in the program that makes the class (the sampler may have missed
    // a rare allocation, or matched the frame that called the maker).
    const anywhere = one(scripts.flatMap((u) => matches(u, read(u) ?? [], alloc)));
    if (anywhere) return found(anywhere, 'allocated');
  }
  // Kept: the one statement storing into the holder, in the class that owns it (several
  // classes may name a field alike), else in any of the program's scripts.
  const keep = q.holder ? keepPattern(q.holder) : null;
  if (keep) {
    const decl = q.holderClass ? new RegExp(String.raw`\bclass\s+${escapeRe(q.holderClass)}\b`) : null;
    const inClass = decl
      ? one(
          scripts.flatMap((u) => {
            const lines = read(u) ?? [];
            return matches(u, lines, decl).flatMap((c) => matches(u, lines, keep, c.line, functionEnd(lines, c.line)));
          }),
        )
      : null;
    const h = inClass ?? one(scripts.flatMap((u) => matches(u, read(u) ?? [], keep)));
    if (h) return found(h, 'kept', inClass ? q.holderClass! : undefined);
  }
  return null;
}

/** What a leak group gives to find its code (a LeakGroup has it all). */
export interface GroupForCode {
  readonly className: string;
  readonly holder: string | null;
  readonly holderClass: string | null;
  readonly sites: readonly HeapCodeSite[];
}

export interface GroupCode {
  readonly allocationSites: readonly MatchedSite[];
  readonly sourceLine: HeapSourceLine | null;
}

/**
 * Allocation sites (from a sampling profile, when given) and the one statement of each
 * group: what `leakscope heap leaks --profile` and a run's analysis attach to the groups.
 * A bad profile throws (LS_ERR_BAD_FILE) naming its file.
 * @example codeOfGroups(report.groups, { data: JSON.parse(text), file: 'p.heapprofile' })[0].sourceLine
 */
export function codeOfGroups(
  groups: readonly GroupForCode[],
  profile?: { readonly data: unknown; readonly file: string },
  read: ScriptReader = scriptReader(),
): GroupCode[] {
  const matched = profile
    ? matchAllocationSites(
        profile.data,
        profile.file,
        groups.map((g) => siteQuery(g.className, g.sites)),
      )
    : groups.map((): MatchedSite[] => []);
  const scripts = profile ? profileScripts(profile.data, profile.file) : [];
  return groups.map((g, k) => ({
    allocationSites: matched[k]!,
    sourceLine: pinpointLine(
      {
        className: g.className,
        holder: g.holder,
        holderClass: g.holderClass,
        codeSites: g.sites,
        allocationSites: matched[k]!,
        scripts,
      },
      read,
    ),
  }));
}
