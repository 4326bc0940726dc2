/**
 * Top allocation sites of a V8 sampling heap profile (.heapprofile, as written by
 * `HeapProfiler.stopSampling` / DevTools "Allocation sampling"): self size summed per call
 * site over the whole call tree, so a site reached through many stacks counts once.
 */
import { readFileSync } from 'node:fs';
import { LsError } from '../common/errors.js';

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

const frameName = (f: ProfileNode['callFrame']): string =>
  `${f.functionName || '(anonymous)'} ${f.url || '(native)'}:${f.lineNumber + 1}`;

/**
 * Aggregates a parsed profile by call site, largest self size first.
 * @example topAllocationSites(JSON.parse(text), 'a.heapprofile', 10).sites[0].functionName
 */
export function topAllocationSites(profile: unknown, file: string, top = 15): AllocationProfileSummary {
  const head = (profile as { head?: ProfileNode } | null)?.head;
  if (!head || typeof head !== 'object' || !head.callFrame)
    throw new LsError('LS_ERR_BAD_FILE', `${file}: not a V8 sampling heap profile (no head.callFrame)`);
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
  let profile: unknown;
  try {
    profile = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new LsError(
      'LS_ERR_BAD_FILE',
      `${file}: cannot read the heap profile (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
  return topAllocationSites(profile, file, top);
}
