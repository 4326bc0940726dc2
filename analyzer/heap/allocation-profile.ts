/**
 * Top allocation sites of a V8 sampling heap profile (.heapprofile, as written by
 * `HeapProfiler.stopSampling` / DevTools "Allocation sampling"): self size summed per call
 * site over the whole call tree, so a site reached through many stacks counts once.
 */
import { readFileSync } from 'node:fs';
import { LsError } from '../../common/errors.js';

interface ProfileNode {
  readonly callFrame: {
    readonly functionName: string;
    readonly url: string;
    readonly lineNumber: number;
    readonly columnNumber?: number;
  };
  readonly selfSize: number;
  readonly children?: readonly ProfileNode[];
}

export interface AllocationSite {
  readonly functionName: string;
  readonly url: string;
  /** 1-based (the profile's lineNumber is 0-based). */
  readonly line: number;
  readonly selfSize: number;
  /** selfSize / all sampled bytes. */
  readonly share: number;
  /** The caller through which most of this site's bytes were allocated. */
  readonly topCaller: string | null;
}

export interface AllocationProfileSummary {
  readonly file: string;
  readonly totalSize: number;
  readonly siteCount: number;
  readonly sites: readonly AllocationSite[];
}

/** The profile's root node, or a clear error naming the file. */
function profileHead(profile: unknown, file: string): ProfileNode {
  const head = (profile as { head?: ProfileNode } | null)?.head;
  if (!head || typeof head !== 'object' || !head.callFrame)
    throw new LsError('LS_ERR_BAD_FILE', `${file}: not a V8 sampling heap profile (no head.callFrame)`);
  return head;
}

const frameName = (f: ProfileNode['callFrame']): string =>
  `${f.functionName || '(anonymous)'} ${f.url || '(native)'}:${f.lineNumber + 1}`;

/**
 * Aggregates a parsed profile by call site, largest self size first.
 * @example topAllocationSites(JSON.parse(text), 'a.heapprofile', 10).sites[0].functionName
 */
export function topAllocationSites(profile: unknown, file: string, top = 15): AllocationProfileSummary {
  const head = profileHead(profile, file);
  const sites = new Map<string, { frame: ProfileNode['callFrame']; size: number; callers: Map<string, number> }>();
  let total = 0;
  const stack: { node: ProfileNode; parent: ProfileNode | null }[] = [{ node: head, parent: null }];
  while (stack.length) {
    const { node, parent } = stack.pop()!;
    const size = Number(node.selfSize) || 0;
    if (size > 0) {
      total += size;
      const f = node.callFrame;
      const key = `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber ?? -1}`;
      let s = sites.get(key);
      if (!s) sites.set(key, (s = { frame: f, size: 0, callers: new Map() }));
      s.size += size;
      if (parent && parent !== head) {
        const c = frameName(parent.callFrame);
        s.callers.set(c, (s.callers.get(c) ?? 0) + size);
      }
    }
    for (const c of node.children ?? []) stack.push({ node: c, parent: node });
  }
  const rows = [...sites.values()].sort((a, b) => b.size - a.size).slice(0, top);
  return {
    file,
    totalSize: total,
    siteCount: sites.size,
    sites: rows.map((s) => ({
      functionName: s.frame.functionName || '(anonymous)',
      url: s.frame.url,
      line: s.frame.lineNumber + 1,
      selfSize: s.size,
      share: total > 0 ? s.size / total : 0,
      topCaller: [...s.callers.entries()].sort((a, b) => b[1] - a[1])[0]?.[0] ?? null,
    })),
  };
}

/** Reads and aggregates one .heapprofile file. */
export function readAllocationProfile(file: string, top = 15): AllocationProfileSummary {
  return topAllocationSites(readProfileJson(file), file, top);
}

/** An allocation site matched to a leak group. */
export interface MatchedSite {
  readonly functionName: string;
  readonly url: string;
  /** 1-based line of the function (a sampling profile's frames carry the function's position). */
  readonly line: number;
  /** Sampled bytes still alive when sampling stopped, attributed to this site. */
  readonly bytes: number;
  /**
   * constructor: the stack ran the group's class constructor, and this is the program's
   * frame that called it. enclosing: the group's objects are (or hold) a closure, and this
   * is the sampled function that encloses its definition — the one that made it. largest:
   * neither, this is the program's frame with the most live sampled bytes (a V8 object
   * allocated without running code of its own, e.g. a base class instance or a string).
   */
  readonly matchedBy: 'constructor' | 'enclosing' | 'largest';
}

/** What a leak group offers to match: its class and, when it has one, its closure's definition. */
export interface SiteQuery {
  readonly className: string;
  /** Where the group's closure (a member, or the callback a member holds) is defined; 1-based. */
  readonly closure?: { readonly url: string; readonly line: number; readonly column: number } | undefined;
}

/**
 * The query for a group: its class, and its closure when its members are closures (the
 * last closure on the path is the member itself) or hold one as their callback.
 */
export function siteQuery(
  className: string,
  codeSites: readonly { kind: string; url: string; line: number; column: number }[] = [],
): SiteQuery {
  const closure =
    codeSites.find((s) => s.kind === 'callback') ??
    (className === '(closure)' ? codeSites.filter((s) => s.kind === 'closure').at(-1) : undefined);
  return closure
    ? { className, closure: { url: closure.url, line: closure.line, column: closure.column } }
    : { className };
}

type Frame = ProfileNode['callFrame'];
type Tally = Map<string, { frame: Frame; bytes: number }>;

/** The program's own code: a script with a URL that is not Node's (node:…) nor V8's. */
const isUserFrame = (f: Frame): boolean => f.url !== '' && !f.url.startsWith('node:') && f.functionName !== '(root)';
/** Profiles name scripts by URL (file:///srv/app.js), snapshots by path (/srv/app.js). */
const samePlace = (url: string, path: string): boolean =>
  url.replace(/^file:\/\//, '') === path.replace(/^file:\/\//, '');

function add(m: Tally, f: Frame, bytes: number): void {
  const key = `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}\u0000${f.columnNumber ?? 0}`;
  const s = m.get(key);
  if (s) s.bytes += bytes;
  else m.set(key, { frame: f, bytes });
}

/**
 * Allocation sites for each leak group, from a sampling heap profile taken with the
 * default flags (samples of collected objects are dropped, so what is left at stop is
 * what survived: for a leak, the leaked objects). One pass over the call tree.
 * @example matchAllocationSites(profile, 'p.heapprofile', [{ className: 'Entry' }])[0][0].functionName // 'remember'
 */
export function matchAllocationSites(
  profile: unknown,
  file: string,
  queries: readonly SiteQuery[],
  perGroup = 2,
): MatchedSite[][] {
  const head = profileHead(profile, file);
  const wanted = new Map<string, number[]>();
  queries.forEach((q, k) => wanted.set(q.className, [...(wanted.get(q.className) ?? []), k]));
  const byClass = queries.map((): Tally => new Map());
  // Live bytes per innermost program frame: the fallback, and the functions that may
  // enclose a group's closure.
  const innermost: Tally = new Map();
  // Depth-first with an explicit stack of frames (profiles nest hundreds deep).
  const frames: Frame[] = [];
  const todo: { node: ProfileNode; depth: number }[] = [{ node: head, depth: 0 }];
  while (todo.length) {
    const { node, depth } = todo.pop()!;
    frames.length = depth;
    frames.push(node.callFrame);
    const bytes = Number(node.selfSize) || 0;
    if (bytes > 0) {
      let user = -1;
      for (let d = frames.length - 1; d >= 0 && user < 0; d--) if (isUserFrame(frames[d]!)) user = d;
      if (user >= 0) add(innermost, frames[user]!, bytes);
      for (let d = frames.length - 1; d >= 0; d--) {
        const ks = wanted.get(frames[d]!.functionName);
        if (ks === undefined) continue;
        // The program's frame that ran the constructor: its caller when the constructor
        // is the program's own class, else the nearest program frame above it.
        let site = -1;
        for (let u = d - 1; u >= 0 && site < 0; u--) if (isUserFrame(frames[u]!)) site = u;
        if (site < 0 && isUserFrame(frames[d]!)) site = d;
        if (site >= 0) for (const k of ks) add(byClass[k]!, frames[site]!, bytes);
        break;
      }
    }
    for (const c of node.children ?? []) todo.push({ node: c, depth: depth + 1 });
  }
  const rows = (sites: Iterable<{ frame: Frame; bytes: number }>, matchedBy: MatchedSite['matchedBy']): MatchedSite[] =>
    [...sites]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, perGroup)
      .map((s) => ({
        functionName: s.frame.functionName || '(anonymous)',
        url: s.frame.url,
        line: s.frame.lineNumber + 1,
        bytes: s.bytes,
        matchedBy,
      }));
  const keyOf = (m: { functionName: string; url: string; line: number }): string =>
    `${m.functionName}\u0000${m.url}\u0000${m.line}`;
  /** The sampled function starting last before the closure's definition, in its script. */
  const enclosing = (c: NonNullable<SiteQuery['closure']>): MatchedSite[] => {
    let best: { frame: Frame; bytes: number } | undefined;
    const at = (f: Frame): number => f.lineNumber * 1e6 + (f.columnNumber ?? 0);
    const def = (c.line - 1) * 1e6 + (c.column - 1);
    for (const s of innermost.values()) {
      if (!samePlace(s.frame.url, c.url) || at(s.frame) >= def) continue;
      if (!best || at(s.frame) > at(best.frame)) best = s;
    }
    return best ? rows([best], 'enclosing') : [];
  };
  const matched = queries.map((q, k): MatchedSite[] => {
    if (byClass[k]!.size > 0) return rows(byClass[k]!.values(), 'constructor');
    return q.closure ? enclosing(q.closure) : [];
  });
  // The fallback leaves out the sites another group is known to come from.
  const explained = new Set(matched.flat().map(keyOf));
  const fallback = rows(
    [...innermost.values()].filter(
      (s) =>
        !explained.has(
          keyOf({ ...s.frame, functionName: s.frame.functionName || '(anonymous)', line: s.frame.lineNumber + 1 }),
        ),
    ),
    'largest',
  );
  return matched.map((m) => (m.length ? m : fallback));
}

/**
 * The program's scripts (URLs of frames that are neither Node's nor V8's) with sampled
 * allocations, most bytes first: where a group's statement may be looked for.
 * @example profileScripts(profile, 'p.heapprofile') // ['file:///srv/app.js']
 */
export function profileScripts(profile: unknown, file: string, top = 20): string[] {
  const bytes = new Map<string, number>();
  const todo = [profileHead(profile, file)];
  while (todo.length) {
    const node = todo.pop()!;
    const size = Number(node.selfSize) || 0;
    if (size > 0 && isUserFrame(node.callFrame))
      bytes.set(node.callFrame.url, (bytes.get(node.callFrame.url) ?? 0) + size);
    for (const c of node.children ?? []) todo.push(c);
  }
  return [...bytes.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([url]) => url);
}

/** Reads a .heapprofile file as JSON, with a clear error naming it. */
export function readProfileJson(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LsError(
      'LS_ERR_BAD_FILE',
      `${file}: cannot read the heap profile (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}
