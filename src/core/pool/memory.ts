import { readdir, readFile } from 'node:fs/promises';

/**
 * Resident memory of a process and all its descendants, from /proc (Linux only). An agent's
 * memory is its whole tree: several agents re-exec themselves or start a native helper.
 * Returns undefined when /proc is unavailable or the process is gone.
 */
export async function sampleProcessTreeRss(rootPid: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const childrenOf = await processChildren();
  if (!childrenOf) return undefined;
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(childrenOf.get(pid) ?? []));
  }
  const sizes = await Promise.all(tree.map(readRssBytes));
  if (sizes[0] === undefined) return undefined;
  return sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0);
}

/** One /proc scan serves every agent sampled within SCAN_REUSE_MS: a pool samples all its agents at once. */
const SCAN_REUSE_MS = 250;
let lastScan: { at: number; children: Promise<Map<number, number[]> | undefined> } | undefined;

function processChildren(): Promise<Map<number, number[]> | undefined> {
  const now = performance.now();
  if (!lastScan || now - lastScan.at > SCAN_REUSE_MS) lastScan = { at: now, children: scanProcessChildren() };
  return lastScan.children;
}

async function scanProcessChildren(): Promise<Map<number, number[]> | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const childrenOf = new Map<number, number[]>();
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name))
      .map(async (name) => {
        const ppid = await readParentPid(Number(name));
        if (ppid === undefined) return;
        const siblings = childrenOf.get(ppid) ?? [];
        siblings.push(Number(name));
        childrenOf.set(ppid, siblings);
      }),
  );
  return childrenOf;
}

async function readParentPid(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: parse after its last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[1]);
  } catch {
    return undefined;
  }
}

async function readRssBytes(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return undefined;
  }
}
