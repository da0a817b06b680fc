import { accessSync, constants as fsConstants, existsSync, statSync } from 'node:fs';
import { setPriority } from 'node:os';
import * as path from 'node:path';
import type { Readable, Writable } from 'node:stream';
import type { ChildProcess } from 'node:child_process';
import { Emitter, type Disposable, type Event } from '../common/event';
import { AgentPoolError } from '../common/errors';
import { newSpawnToken, SPAWN_TOKEN_ENV, type ProcessIdentity } from './identity';
import type { OwnerToGuardian } from './guardianProtocol';
import { ownerSilenceWatch, type OwnerSilenceWatch } from './ownerWatch';
import { readProcStat } from './procStat';
import { processGroupMembersAsync } from './tree';

/**
 * Starts agent programs safely: never through a shell, each in its own process group, each watched
 * by a guardian (dist/guardian.js) that kills the group when this process dies, even by SIGKILL.
 */
export interface SpawnAgentOptions {
  /** The profile name, for error messages. */
  profile: string;
  command: string;
  args: string[];
  /** The agent's complete environment (callers merge process.env themselves). */
  env: Record<string, string | undefined>;
  cwd: string;
  /** Absolute path of the guardian bundle; defaults to guardian.js next to this bundle (see resolveDistFile). */
  guardianScript?: string;
  /** Bytes of stderr kept to explain a crash. */
  stderrTailBytes?: number;
  signal?: AbortSignal;
  /** Where to report trouble that is not an error of the call (a guardian that died). */
  log?: (message: string) => void;
}

export interface AgentProcessExit {
  exitCode: number | null;
  signal: string | null;
  /** True when kill()/dispose() asked for it. */
  expected: boolean;
  stderrTail: string;
}

export type SpawnErrorCode = 'AGENT_BINARY_NOT_FOUND' | 'AGENT_SPAWN_FAILED';

/** A start that failed before the agent ran; the agent adapters turn it into their AgentError. */
export class SpawnError extends AgentPoolError {
  constructor(
    override readonly code: SpawnErrorCode,
    message: string,
    readonly details: { profile: string; command: string; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'SpawnError';
  }
}

const DEFAULT_STDERR_TAIL_BYTES = 4096;
const GUARDIAN_NICENESS = 10;
/** After the agent exits, how long stderr may take to drain before the exit is reported anyway. */
const STDERR_DRAIN_MS = 300;
/** How long an exit waits for the rest of the group to die after its SIGKILL (it is scheduled, not instant). */
const GROUP_GONE_MS = 2000;

/** Resolves once no live (non-zombie) process is left in the group, or after `limitMs`. */
function whenGroupGone(pgid: number, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  return new Promise((resolve) => {
    const check = async () => {
      if ((await processGroupMembersAsync(pgid)).length === 0 || performance.now() >= deadline) resolve();
      else setTimeout(() => void check(), 5);
    };
    void check();
  });
}

let execaModule: Promise<typeof import('execa', { with: { 'resolution-mode': 'import' } })> | undefined;
function loadExeca() {
  execaModule ??= import('execa');
  return execaModule;
}

/**
 * Finds a program the way a shell would, but without one: a path with a separator must exist and be
 * executable; a bare name is looked up in PATH (with PATHEXT on Windows). Undefined when not found.
 */
export function resolveCommand(command: string, envPath: string | undefined, cwd: string = process.cwd()): string | undefined {
  const extensions = process.platform === 'win32' ? ['', ...(process.env.PATHEXT ?? '.EXE;.CMD;.BAT').split(';')] : [''];
  const isExecutableFile = (candidate: string): boolean => {
    try {
      const stat = statSync(candidate);
      if (!stat.isFile()) return false;
      // access(X_OK) succeeds for root on any file; the mode bits say whether exec can work.
      if (process.platform !== 'win32' && (stat.mode & 0o111) === 0) return false;
      if (process.platform !== 'win32') accessSync(candidate, fsConstants.X_OK);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/') || command.includes(path.sep)) {
    const absolute = path.resolve(cwd, command);
    return extensions.map((ext) => absolute + ext).find(isExecutableFile);
  }
  for (const directory of (envPath ?? '').split(path.delimiter)) {
    if (!directory) continue;
    for (const ext of extensions) {
      const candidate = path.join(directory, command + ext);
      if (isExecutableFile(candidate)) return candidate;
    }
  }
  return undefined;
}

/**
 * Finds a shipped bundle (guardian.js, demo-agent.js): next to the running bundle in dist/, or, when
 * running from sources (tests through tsx), in the dist/ folder of the nearest ancestor that has one.
 */
export function resolveDistFile(fileName: string, startDirectory: string = __dirname): string {
  if (existsSync(path.join(startDirectory, fileName))) return path.join(startDirectory, fileName);
  let directory = startDirectory;
  for (;;) {
    const candidate = path.join(directory, 'dist', fileName);
    if (existsSync(candidate)) return candidate;
    const parent = path.dirname(directory);
    if (parent === directory) return path.join(startDirectory, fileName);
    directory = parent;
  }
}

/** Sends `alive` to the guardian while the owner's slot is provable (ownerWatch.ts); stops with the guardian. */
function pingWhileProvable(guardian: ChildProcess, watch: OwnerSilenceWatch): void {
  const ping = setInterval(() => {
    if (!watch.mayPing() || !guardian.connected) return;
    try {
      guardian.send({ type: 'alive' } satisfies OwnerToGuardian);
    } catch {
      // The guardian is going: its exit is handled by AgentProcess.
    }
  }, watch.pingIntervalMs);
  ping.unref();
  guardian.once('exit', () => clearInterval(ping));
}

/** One running agent and its guardian. stdin/stdout/stderr are the agent's own pipes. */
export class AgentProcess implements Disposable {
  private readonly _onDidExit = new Emitter<AgentProcessExit>();
  readonly onDidExit: Event<AgentProcessExit> = this._onDidExit.event;
  readonly exited: Promise<AgentProcessExit>;
  private resolveExited!: (exit: AgentProcessExit) => void;
  private exit: AgentProcessExit | undefined;
  private agentExit: { exitCode: number | null; signal: string | null } | undefined;
  private killRequested = false;
  private stderrChunks: Buffer[] = [];
  private stderrBytes = 0;
  private killTimer: NodeJS.Timeout | undefined;
  /** Monotonic ms of the last byte the agent wrote (adapters report stdout through noteActivity). */
  lastActivityAt = performance.now();

  constructor(
    readonly identity: ProcessIdentity,
    private readonly agent: ChildProcess,
    private readonly guardian: ChildProcess,
    private readonly stderrTailBytes: number,
    private readonly log: (message: string) => void,
  ) {
    this.exited = new Promise((resolve) => (this.resolveExited = resolve));
    this.stderr.on('data', this.collectStderr);
    // EPIPE on a write after the agent died would otherwise be an unhandled 'error' that takes the
    // whole extension host down; the exit event already tells the story.
    // A pipe error while we are killing the agent (the SDK closes its stream) is expected, not news.
    for (const stream of [this.stdin, this.stdout, this.stderr]) stream.on('error', (error) => this.killRequested || this.log(`agent ${this.pid} stdio: ${error.message}`));
    agent.once('exit', (code, signal) => this.onAgentExit(code, signal));
    guardian.once('exit', () => {
      if (this.agentExit) return;
      // No agent may run unwatched: without its guardian it would outlive a crash of this process.
      this.log(`the guardian of agent ${this.pid} exited; stopping the agent`);
      void this.kill(0);
    });
  }

  get pid(): number {
    return this.identity.pid;
  }
  get guardianPid(): number | undefined {
    return this.guardian.pid;
  }
  get stdin(): Writable {
    return this.agent.stdin!;
  }
  get stdout(): Readable {
    return this.agent.stdout!;
  }
  get stderr(): Readable {
    return this.agent.stderr!;
  }
  get hasExited(): boolean {
    return this.agentExit !== undefined;
  }

  /** Adapters call this as they read stdout: a listener here would put stdout in flowing mode too early. */
  noteActivity(): void {
    this.lastActivityAt = performance.now();
  }

  stderrTail(): string {
    return Buffer.concat(this.stderrChunks).toString('utf8').slice(-this.stderrTailBytes).trim();
  }

  /** SIGTERM to the agent's process group, SIGKILL after `graceMs`; resolves once it is gone. */
  kill(graceMs = 2000): Promise<AgentProcessExit> {
    if (this.exit) return Promise.resolve(this.exit);
    this.killRequested = true;
    if (!this.hasExited && this.killTimer === undefined) {
      this.signalGroup(graceMs <= 0 ? 'SIGKILL' : 'SIGTERM');
      this.killTimer = setTimeout(() => this.signalGroup('SIGKILL'), Math.max(graceMs, 0));
    } else if (!this.hasExited && graceMs <= 0) {
      // A kill already in its SIGTERM grace, hurried (a second Ctrl-C): no more grace.
      this.signalGroup('SIGKILL');
    }
    return this.exited;
  }

  dispose(): void {
    void this.kill(0);
  }

  private readonly collectStderr = (chunk: Buffer): void => {
    this.lastActivityAt = performance.now();
    this.stderrChunks.push(chunk);
    this.stderrBytes += chunk.length;
    while (this.stderrBytes - this.stderrChunks[0]!.length > this.stderrTailBytes) {
      this.stderrBytes -= this.stderrChunks.shift()!.length;
    }
  };

  private signalGroup(signal: NodeJS.Signals): void {
    if (this.hasExited) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      // ESRCH: already gone; the exit event is on its way.
    }
  }

  private onAgentExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.agentExit = { exitCode: code, signal };
    clearTimeout(this.killTimer);
    // Whatever the agent left in its group (codex-acp leaves its native binary) goes with it.
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // the group is empty
    }
    if (this.guardian.connected) this.guardian.send({ type: 'release' } satisfies OwnerToGuardian, () => undefined);
    // "Exited" means the whole group is gone, so a caller never sees a grandchild outlive kill().
    let finishing = false;
    const finish = () => {
      if (finishing) return;
      finishing = true;
      void whenGroupGone(this.pid, GROUP_GONE_MS).then(() => {
        this.exit = { ...this.agentExit!, expected: this.killRequested, stderrTail: this.stderrTail() };
        this.resolveExited(this.exit);
        this._onDidExit.fire(this.exit);
        this._onDidExit.dispose();
      });
    };
    if (this.stderr.readableEnded || this.stderr.destroyed) finish();
    else {
      this.stderr.once('end', finish);
      this.stderr.once('close', finish);
      setTimeout(finish, STDERR_DRAIN_MS).unref();
    }
  }
}

/**
 * Resolves the command, starts the agent (no shell, own process group) and its guardian side by
 * side, and resolves once the agent has been exec'd. Rejects with AGENT_BINARY_NOT_FOUND (naming
 * the profile, the command and the setting) or AGENT_SPAWN_FAILED; leaves nothing behind on failure.
 */
export async function spawnAgentProcess(options: SpawnAgentOptions): Promise<AgentProcess> {
  const resolved = resolveCommand(options.command, options.env.PATH ?? process.env.PATH, options.cwd);
  const details = { profile: options.profile, command: options.command };
  if (!resolved) {
    throw new SpawnError(
      'AGENT_BINARY_NOT_FOUND',
      `Agent profile "${options.profile}": the program "${options.command}" was not found on PATH or is not executable. ` +
        `Install it, or set an absolute path in agentPool.profiles.${options.profile}.command.`,
      details,
    );
  }
  const guardianScript = options.guardianScript ?? resolveDistFile('guardian.js');
  if (!existsSync(guardianScript)) {
    throw new SpawnError('AGENT_SPAWN_FAILED', `Agent profile "${options.profile}": the process guardian ${guardianScript} is missing; the extension is incomplete (run npm run build).`, details);
  }
  const { execa } = await loadExeca();
  // After the import: an abort that landed while it loaded must still stop the start.
  options.signal?.throwIfAborted();
  const common = { shell: false, detached: true, buffer: false, reject: false, cleanup: false, windowsHide: true, cwd: options.cwd, extendEnv: false } as const;
  // The token proves later, through /proc, that a pid named in a lease is this agent (issue 13).
  const spawnToken = newSpawnToken();
  const env = { ...options.env, [SPAWN_TOKEN_ENV]: spawnToken };
  const agent = execa(resolved, options.args, { ...common, stdio: ['pipe', 'pipe', 'pipe'], env }) as unknown as ChildProcess & Promise<unknown>;
  void agent.catch(() => undefined);
  const pid = agent.pid;
  const silenceWatch = ownerSilenceWatch();
  // Started in the same tick as the agent, so there is no moment in which the agent runs unwatched.
  const startTime = pid === undefined ? 'unknown' : (readProcStat(pid)?.startTime ?? 'unknown');
  const guardian =
    pid === undefined
      ? undefined
      : (execa(process.execPath, [guardianScript, String(pid), startTime, ...(silenceWatch ? [String(silenceWatch.silenceLimitMs)] : [])], {
          ...common,
          stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
          serialization: 'json',
          // The extension host's execPath is Electron: this makes it behave as plain node.
          env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
        }) as unknown as ChildProcess & Promise<unknown>);
  void guardian?.catch(() => undefined);
  if (guardian && silenceWatch) pingWhileProvable(guardian, silenceWatch);
  // On a busy machine the guardian's node start-up would compete with the agent's for CPU: let the
  // agent go first. A niced guardian still starts, and kills the group if the owner is already gone.
  if (guardian?.pid !== undefined) {
    try {
      setPriority(guardian.pid, GUARDIAN_NICENESS);
    } catch {
      // not allowed here: start-up is merely a little slower
    }
  }
  try {
    await new Promise<void>((resolve, reject) => {
      const onAbort = () => reject(new SpawnError('AGENT_SPAWN_FAILED', `Agent profile "${options.profile}": start cancelled.`, { ...details, cause: options.signal?.reason }));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      agent.once('spawn', () => {
        options.signal?.removeEventListener('abort', onAbort);
        resolve();
      });
      agent.once('error', (error: NodeJS.ErrnoException) => {
        options.signal?.removeEventListener('abort', onAbort);
        reject(
          new SpawnError(
            'AGENT_SPAWN_FAILED',
            `Agent profile "${options.profile}": could not start "${resolved}" (${error.code ?? 'error'}: ${error.message}). Check agentPool.profiles.${options.profile}.command.`,
            { ...details, cause: error },
          ),
        );
      });
    });
  } catch (error) {
    if (pid !== undefined) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {
        // never started
      }
    }
    guardian?.kill('SIGKILL');
    throw error;
  }
  const log = options.log ?? ((message: string) => console.warn(`[agent-pool] ${message}`));
  return new AgentProcess({ pid: pid!, startTime, spawnToken }, agent, guardian!, options.stderrTailBytes ?? DEFAULT_STDERR_TAIL_BYTES, log);
}
