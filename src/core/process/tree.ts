import { readFileSync, readdirSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';

import { isProcessAlive } from './identity';
import { CLOCK_TICKS_PER_SECOND, parseProcStat, readProcStat, type ProcStat } from './procStat';

/**
 * Process trees read straight from /proc (Linux). An agent's cost is its whole tree: codex-acp runs a
 * native binary under a node wrapper and gemini re-execs itself, so the launched pid alone undercounts.
 * Off Linux every reader degrades to "unknown" (undefined / 0 / []) rather than throwing.
 */
export { readProcStat, type ProcStat };

/** True unless the process is gone or a zombie (a zombie holds no memory and runs no code). */
export function isProcessRunning(pid: number): boolean {
  const stat = readProcStat(pid);
  if (stat) return stat.state !== 'Z' && stat.state !== 'X';
  if (process.platform === 'linux') return false;
  return isProcessAlive(pid);
}

function allProcStats(): ProcStat[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  const stats: ProcStat[] = [];
  for (const entry of entries) {
    const first = entry.charCodeAt(0);
    if (first < 48 || first > 57) continue;
    const stat = readProcStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/**
 * The pids of `rootPid` and all its descendants. /proc/<pid>/task/<tid>/children is missing on
 * kernels without CONFIG_PROC_CHILDREN (as on this machine), so one scan of /proc builds the tree.
 */
export function processTreePids(rootPid: number): number[] {
  return descendantsOf(rootPid, childrenIndex(allProcStats()));
}

interface ChildrenIndex {
  readonly pids: ReadonlySet<number>;
  readonly childrenByParent: ReadonlyMap<number, number[]>;
  readonly statOf: ReadonlyMap<number, ProcStat>;
}

function childrenIndex(stats: readonly ProcStat[]): ChildrenIndex {
  const childrenByParent = new Map<number, number[]>();
  for (const stat of stats) {
    const siblings = childrenByParent.get(stat.ppid);
    if (siblings) siblings.push(stat.pid);
    else childrenByParent.set(stat.ppid, [stat.pid]);
  }
  return { pids: new Set(stats.map((stat) => stat.pid)), childrenByParent, statOf: new Map(stats.map((stat) => [stat.pid, stat])) };
}

/** `rootPid` and all its descendants; empty when the root is gone. */
function descendantsOf(rootPid: number, { pids, childrenByParent }: ChildrenIndex): number[] {
  if (!pids.has(rootPid)) return [];
  const tree: number[] = [];
  const pending = [rootPid];
  while (pending.length > 0) {
    const pid = pending.pop()!;
    tree.push(pid);
    pending.push(...(childrenByParent.get(pid) ?? []));
  }
  return tree;
}

/** Live (non-zombie) members of a process group: what a group kill must leave empty. */
export function processGroupMembers(pgid: number): number[] {
  return liveMembers(allProcStats(), pgid);
}

/**
 * The same without blocking the event loop: an agent's exit waits on this while the pool serves the
 * next prompt on another agent (a synchronous scan of every /proc entry each 5 ms put tens of ms into
 * that prompt's latency on a busy machine). Empty off Linux.
 */
export async function processGroupMembersAsync(pgid: number): Promise<number[]> {
  if (!groupMayExist(pgid)) return [];
  return liveMembers((await scanProcStats()) ?? [], pgid);
}

/** kill(-pgid, 0): one system call that says "no process at all is left" without a scan (zombies still count). */
function groupMayExist(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

function liveMembers(stats: readonly ProcStat[], pgid: number): number[] {
  return stats.filter((stat) => stat.pgid === pgid && stat.state !== 'Z' && stat.state !== 'X').map((stat) => stat.pid);
}

let cachedPageSize: number | undefined;

/**
 * statm counts pages; Node exposes no getpagesize(). process.memoryUsage().rss is computed by libuv
 * from the same kernel counter times the page size, so their ratio, rounded to a power of two, is it.
 */
function pageSize(): number {
  if (cachedPageSize !== undefined) return cachedPageSize;
  try {
    const residentPages = Number(readFileSync('/proc/self/statm', 'latin1').split(' ')[1]);
    const ratio = process.memoryUsage().rss / residentPages;
    cachedPageSize = 2 ** Math.round(Math.log2(ratio));
  } catch {
    cachedPageSize = 4096;
  }
  return cachedPageSize;
}

/** Resident memory of one process in bytes (0 when gone). Reading statm costs about 0.1 ms. */
export function processRssBytes(pid: number): number {
  try {
    return rssFromStatm(readFileSync(`/proc/${pid}/statm`, 'latin1'));
  } catch {
    return 0;
  }
}

function rssFromStatm(statm: string): number {
  const residentPages = Number(statm.split(' ')[1]);
  return Number.isFinite(residentPages) ? residentPages * pageSize() : 0;
}

/** Resident memory of a process and all its descendants, summed; 0 when the root is gone. */
export function processTreeRssBytes(rootPid: number): number {
  let total = 0;
  for (const pid of processTreePids(rootPid)) total += processRssBytes(pid);
  return total;
}

/**
 * The same as processTreeRssBytes without blocking the event loop, for periodic sampling (the
 * pool's memory recycling). One /proc scan serves every call within SCAN_REUSE_MS, because a pool
 * samples all its agents at once. Undefined when /proc is unavailable or the root is gone.
 */
export async function sampleProcessTreeRss(rootPid: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const index = await sharedChildrenIndex();
  // A root newer than the shared scan still counts itself; its children show up at the next scan.
  const tree = index?.pids.has(rootPid) ? descendantsOf(rootPid, index) : [rootPid];
  const sizes = await Promise.all(tree.map((pid) => readFile(`/proc/${pid}/statm`, 'latin1').then(rssFromStatm, () => undefined)));
  if (sizes[0] === undefined) return undefined;
  return sizes.reduce<number>((sum, size) => sum + (size ?? 0), 0);
}

/**
 * CPU time used so far by a process and its live descendants, in ms, from the same shared scan: what
 * recycling by idle CPU compares between samples. A child that exits takes its time with it, so the
 * sum can drop; the recycler starts its window over when it does. Undefined off Linux or when gone.
 */
export async function sampleProcessTreeCpuMs(rootPid: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const index = await sharedChildrenIndex();
  if (!index?.pids.has(rootPid)) return undefined;
  let ticks = 0;
  for (const pid of descendantsOf(rootPid, index)) ticks += index.statOf.get(pid)?.cpuTicks ?? 0;
  return (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

const SCAN_REUSE_MS = 250;
let lastScan: { at: number; index: Promise<ChildrenIndex | undefined> } | undefined;

function sharedChildrenIndex(): Promise<ChildrenIndex | undefined> {
  const now = performance.now();
  if (!lastScan || now - lastScan.at > SCAN_REUSE_MS) lastScan = { at: now, index: scanProcStats().then((stats) => stats && childrenIndex(stats)) };
  return lastScan.index;
}

async function scanProcStats(): Promise<ProcStat[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const stats = await Promise.all(
    entries
      .filter((name) => name.charCodeAt(0) >= 48 && name.charCodeAt(0) <= 57)
      .map((name) => readFile(`/proc/${name}/stat`, 'latin1').then(parseProcStat, () => undefined)),
  );
  return stats.filter((stat): stat is ProcStat => stat !== undefined);
}
