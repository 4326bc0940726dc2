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
   * frame that called it; largest: no such stack, this is the program's frame with the
   * most live sampled bytes (what a Map of strings or an array of closures shows).
   */
  readonly matchedBy: 'constructor' | 'largest';
}

type Frame = ProfileNode['callFrame'];

/** The program's own code: a script with a URL that is not Node's (node:…) nor V8's. */
const isUserFrame = (f: Frame): boolean => f.url !== '' && !f.url.startsWith('node:') && f.functionName !== '(root)';

/**
 * Allocation sites for each class name, from a sampling heap profile taken with the
 * default flags (samples of collected objects are dropped, so what is left at stop is
 * what survived: for a leak, the leaked objects). One pass over the call tree.
 * @example matchAllocationSites(profile, 'p.heapprofile', ['Entry'])[0][0] // { functionName: 'remember', … }
 */
export function matchAllocationSites(
  profile: unknown,
  file: string,
  classNames: readonly string[],
  perClass = 2,
): MatchedSite[][] {
  const head = profileHead(profile, file);
  const wanted = new Map(classNames.map((c, k) => [c, k]));
  const byClass = classNames.map(() => new Map<string, { frame: Frame; bytes: number }>());
  const largest = new Map<string, { frame: Frame; bytes: number }>();
  const add = (m: Map<string, { frame: Frame; bytes: number }>, f: Frame, bytes: number): void => {
    const key = `${f.functionName}\u0000${f.url}\u0000${f.lineNumber}`;
    const s = m.get(key);
    if (s) s.bytes += bytes;
    else m.set(key, { frame: f, bytes });
  };
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
      if (user >= 0) add(largest, frames[user]!, bytes);
      for (let d = frames.length - 1; d >= 0; d--) {
        const k = wanted.get(frames[d]!.functionName);
        if (k === undefined) continue;
        // The program's frame that ran the constructor: its caller when the constructor
        // is the program's own class, else the nearest program frame above it.
        let site = -1;
        for (let u = d - 1; u >= 0 && site < 0; u--) if (isUserFrame(frames[u]!)) site = u;
        if (site < 0 && isUserFrame(frames[d]!)) site = d;
        if (site >= 0) add(byClass[k]!, frames[site]!, bytes);
        break;
      }
    }
    for (const c of node.children ?? []) todo.push({ node: c, depth: depth + 1 });
  }
  const rows = (m: Map<string, { frame: Frame; bytes: number }>, matchedBy: MatchedSite['matchedBy']): MatchedSite[] =>
    [...m.values()]
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, perClass)
      .map((s) => ({
        functionName: s.frame.functionName || '(anonymous)',
        url: s.frame.url,
        line: s.frame.lineNumber + 1,
        bytes: s.bytes,
        matchedBy,
      }));
  const fallback = rows(largest, 'largest');
  return byClass.map((m) => (m.size > 0 ? rows(m, 'constructor') : fallback));
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
