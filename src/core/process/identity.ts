import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, promises as fsp } from 'node:fs';
import { parseProcStat } from './procStat';

/**
 * Who a process is, in a way that survives pid reuse: its pid plus the kernel's start time for it.
 * Every decision to break a lease, remove a record or kill an orphan rests on these functions, so
 * they answer "dead" only on proof and "alive" whenever in doubt.
 */
export interface ProcessIdentity {
  pid: number;
  /** Opaque, comparable only for equality (Linux: field 22 of /proc/<pid>/stat). */
  startTime: string;
  /**
   * For agents we spawned: a random token put in the agent's environment (SPAWN_TOKEN_ENV), the
   * proof, readable in /proc/<pid>/environ, that a process named in a file is really that agent.
   */
  spawnToken?: string;
}

/** The environment variable that carries an agent's spawn token. */
export const SPAWN_TOKEN_ENV = 'AGENT_POOL_SPAWN_TOKEN';
const SPAWN_TOKEN_PATTERN = /^[0-9a-f]{24}$/;

export function newSpawnToken(): string {
  return randomBytes(12).toString('hex');
}

export function isSpawnToken(value: unknown): value is string {
  return typeof value === 'string' && SPAWN_TOKEN_PATTERN.test(value);
}

/** What we can prove about a recorded process; `unknown` must be treated like `alive`. */
export type ProcessLiveness = 'alive' | 'dead' | 'unknown';

/** Recorded when the platform gives no start time (Windows): liveness then rests on the pid alone. */
export const UNKNOWN_START_TIME = 'unknown';

interface ProcessStat {
  /** One-letter scheduler state; `Z` (zombie) and `X` (dead) cannot run again. */
  state: string;
  startTime: string;
  processGroup?: number;
}

export function isValidPid(pid: unknown): pid is number {
  return typeof pid === 'number' && Number.isSafeInteger(pid) && pid > 0;
}

/** `kill(pid, 0)`: ESRCH means gone; EPERM means alive but another user's. Never fooled into signalling a group. */
export function isProcessAlive(pid: number): boolean {
  if (!isValidPid(pid)) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Linux: field 22 of /proc/<pid>/stat; macOS: `ps -o lstart=`; elsewhere undefined. */
export async function readProcessStartTime(pid: number): Promise<string | undefined> {
  return (await readProcessStat(pid))?.startTime;
}

let selfIdentity: Promise<ProcessIdentity> | undefined;

/** This process's identity, read once. */
export function currentProcessIdentity(): Promise<ProcessIdentity> {
  selfIdentity ??= readProcessStartTime(process.pid).then((startTime) => ({
    pid: process.pid,
    startTime: startTime ?? UNKNOWN_START_TIME,
  }));
  return selfIdentity;
}

export async function identityOf(pid: number): Promise<ProcessIdentity | undefined> {
  const stat = await readProcessStat(pid);
  if (stat) return { pid, startTime: stat.startTime };
  return isProcessAlive(pid) && !statSupported() ? { pid, startTime: UNKNOWN_START_TIME } : undefined;
}

export async function processLiveness(identity: ProcessIdentity): Promise<ProcessLiveness> {
  if (!isValidPid(identity.pid)) return 'dead';
  let signalAnswer: 'mine' | 'foreign';
  try {
    process.kill(identity.pid, 0);
    signalAnswer = 'mine';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return 'dead';
    signalAnswer = 'foreign';
  }
  if (!statSupported()) return 'alive';
  const stat = await readProcessStat(identity.pid);
  if (!stat) {
    // Our own process vanished between the two calls; another user's may merely be hidden (hidepid).
    return signalAnswer === 'mine' ? 'dead' : 'unknown';
  }
  if (identity.startTime !== UNKNOWN_START_TIME && stat.startTime !== identity.startTime) return 'dead';
  if (stat.state === 'Z' || stat.state === 'X') return (await allThreadsExited(identity.pid)) ? 'dead' : 'alive';
  return 'alive';
}

/**
 * A SIGKILLed process's main thread turns zombie while its other threads may still be finishing
 * a system call (a rename or unlink in libuv's pool, landing after we acted on its "death").
 * Linux lists those threads under /proc/<pid>/task until they are gone: only then is it dead.
 */
async function allThreadsExited(pid: number): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  let threads: string[];
  try {
    threads = await fsp.readdir(`/proc/${pid}/task`);
  } catch {
    return true;
  }
  for (const thread of threads) {
    let text: string;
    try {
      text = await fsp.readFile(`/proc/${pid}/task/${thread}/stat`, 'utf8');
    } catch {
      continue;
    }
    const state = parseLinuxStat(text)?.state;
    if (state !== undefined && state !== 'Z' && state !== 'X') return false;
  }
  return true;
}

/** True while the very process named by `identity` still runs (same pid and same start time). */
export async function sameProcess(identity: ProcessIdentity): Promise<boolean> {
  return (await processLiveness(identity)) === 'alive';
}

/** True only on proof: the pid is gone, a zombie, or now belongs to a process that started later. */
export async function isProvablyDead(identity: ProcessIdentity): Promise<boolean> {
  return (await processLiveness(identity)) === 'dead';
}

/**
 * Kills the process named by `identity` (its whole group when it leads one, as agents started
 * `detached` do), but only after checking it is still that process. Returns whether a signal was sent.
 */
export async function killIdentified(identity: ProcessIdentity, signal: NodeJS.Signals = 'SIGKILL'): Promise<boolean> {
  if (!isValidPid(identity.pid) || identity.pid === process.pid) return false;
  const stat = await readProcessStat(identity.pid);
  if (statSupported()) {
    if (!stat || stat.state === 'Z' || stat.state === 'X') return false;
    if (identity.startTime !== UNKNOWN_START_TIME && stat.startTime !== identity.startTime) return false;
  } else if (!isProcessAlive(identity.pid)) {
    return false;
  }
  try {
    if (stat?.processGroup === identity.pid && identity.pid !== process.pid) {
      process.kill(-identity.pid, signal);
    } else {
      process.kill(identity.pid, signal);
    }
    return true;
  } catch {
    return false;
  }
}

/**
 * Does the running process `pid` carry `token` in its environment? Linux reads /proc/<pid>/environ
 * (a process's own environment, readable only by its user and root); elsewhere there is no check of
 * equal strength, so the answer is `unknown`.
 */
export async function carriesSpawnToken(pid: number, token: string): Promise<'yes' | 'no' | 'unknown'> {
  if (process.platform !== 'linux' || !statSupported() || !isValidPid(pid)) return 'unknown';
  let environ: Buffer;
  try {
    environ = await fsp.readFile(`/proc/${pid}/environ`);
  } catch {
    return 'unknown';
  }
  return environ.toString('latin1').split('\0').includes(`${SPAWN_TOKEN_ENV}=${token}`) ? 'yes' : 'no';
}

export type ProvenKillOutcome = 'killed' | 'unproven' | 'gone';

/**
 * Kills an agent named only by a file (a lease of a dead window): only when it is provably the
 * agent that was spawned, i.e. same pid, same start time and our spawn token in its environment.
 * Without that proof (no token recorded, another token, no /proc) it is `unproven` and left alone:
 * a pid and start time copied into a file by anyone would otherwise be a licence to kill.
 */
export async function killProvenAgent(identity: ProcessIdentity, signal: NodeJS.Signals = 'SIGKILL'): Promise<ProvenKillOutcome> {
  if ((await processLiveness(identity)) === 'dead') return 'gone';
  if (!isSpawnToken(identity.spawnToken) || (await carriesSpawnToken(identity.pid, identity.spawnToken)) !== 'yes') return 'unproven';
  return (await killIdentified(identity, signal)) ? 'killed' : 'gone';
}

let procMounted: boolean | undefined;

/** Without a readable /proc every pid would look gone, so Linux falls back to `kill(pid, 0)` alone. */
function statSupported(): boolean {
  if (process.platform === 'darwin') return true;
  if (process.platform !== 'linux') return false;
  procMounted ??= existsSync('/proc/self/stat');
  return procMounted;
}

async function readProcessStat(pid: number): Promise<ProcessStat | undefined> {
  if (!isValidPid(pid)) return undefined;
  if (process.platform === 'linux') return statSupported() ? readLinuxStat(pid) : undefined;
  if (process.platform === 'darwin') return readDarwinStat(pid);
  return undefined;
}

async function readLinuxStat(pid: number): Promise<ProcessStat | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  return parseLinuxStat(text);
}

/** The fields liveness needs, from the one /proc/<pid>/stat parser (./procStat.ts). */
export function parseLinuxStat(text: string): ProcessStat | undefined {
  const stat = parseProcStat(text);
  if (!stat) return undefined;
  return { state: stat.state, startTime: stat.startTime, processGroup: Number.isSafeInteger(stat.pgid) ? stat.pgid : undefined };
}

function readDarwinStat(pid: number): Promise<ProcessStat | undefined> {
  return new Promise((resolve) => {
    execFile('ps', ['-o', 'stat=,pgid=,lstart=', '-p', String(pid)], { timeout: 5000 }, (error, stdout) => {
      const match = /^\s*(\S+)\s+(\d+)\s+(.+?)\s*$/.exec(stdout ?? '');
      if (error || !match) return resolve(undefined);
      resolve({ state: match[1]!.charAt(0), processGroup: Number(match[2]), startTime: match[3]! });
    });
  });
}
