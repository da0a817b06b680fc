import { Emitter, type Event } from '../common/event';
import { setUnfrozenTimeout, type UnfrozenTimer } from '../common/unfrozenClock';
import type { ProcessIdentity } from '../process/identity';
import { spawnAgentProcess, type AgentProcess, type AgentProcessExit } from '../process/spawn';
import type { AgentConnectionOptions, AgentExit, AgentHealth, AgentProfile } from './adapter';
import { AgentError, rethrowAsAgentError } from './agentError';
import { secretRedactor, type Redactor } from './secrets';

/** Extra knobs for tests and benchmarks; the pool passes none. */
export interface ProcessOverrides {
  guardianScript?: string;
  /** Replaces spawnAgentProcess, e.g. to hold a start at a chosen point. */
  spawnProcess?: typeof spawnAgentProcess;
}

/** How long to wait for the exit report once the pipe closed, to tell a crash from a protocol error. */
const EXIT_REPORT_WAIT_MS = 1000;

/**
 * The process side shared by the long-lived adapters (ACP, Claude stream-json): spawn under the
 * guardian, a bounded handshake, exit reporting, health, kill. Subclasses speak the protocol.
 */
export abstract class LongLivedAgent {
  readonly lifetime = 'long-lived' as const;
  protected child: AgentProcess | undefined;
  protected ready = false;
  private disposed = false;
  /** Set by kill(): a start still spawning must not leave a live agent behind. */
  private killed = false;
  /** The spawn in flight: kill() waits for it, so it never returns while a process it missed comes up. */
  private spawning: Promise<AgentProcess> | undefined;
  private startedAt = performance.now();
  protected readonly _onDidExit = new Emitter<AgentExit>();
  readonly onDidExit: Event<AgentExit> = this._onDidExit.event;
  private readonly _onDidSpawn = new Emitter<ProcessIdentity>();
  readonly onDidSpawn: Event<ProcessIdentity> = this._onDidSpawn.event;

  /** Blanks the keys the agent was started with out of anything it says (errors, stderr, logs). */
  protected readonly redact: Redactor;

  constructor(
    readonly profile: AgentProfile,
    protected readonly options: AgentConnectionOptions,
    protected readonly overrides: ProcessOverrides = {},
  ) {
    this.redact = secretRedactor(process.env, profile.env);
  }

  /** The agent's last stderr lines, keys blanked. */
  protected stderrTail(tail = this.child?.stderrTail() ?? ''): string {
    return this.redact(tail);
  }

  get process(): ProcessIdentity | undefined {
    return this.child && !this.child.hasExited ? this.child.identity : undefined;
  }

  health(): AgentHealth {
    return {
      alive: this.child !== undefined && !this.child.hasExited,
      ready: this.ready && this.child !== undefined && !this.child.hasExited,
      lastActivityAt: this.child?.lastActivityAt ?? this.startedAt,
    };
  }

  async kill(graceMs = 2000): Promise<void> {
    this.ready = false;
    this.killed = true;
    // spawn() kills what it produces once it sees `killed`; waiting here makes kill() cover that process too.
    const child = this.child ?? (await this.spawning?.catch(() => undefined));
    if (child) await child.kill(graceMs);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    void this.kill(0).finally(() => {
      this._onDidExit.dispose();
      this._onDidSpawn.dispose();
    });
  }

  protected commandLine(): string {
    return [this.profile.command, ...this.profile.args].join(' ');
  }

  protected log(level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string): void {
    this.options.log?.(level, this.redact(`[${this.profile.name}] ${message}`));
  }

  protected async spawn(signal?: AbortSignal): Promise<AgentProcess> {
    if (this.child) throw new AgentError('AGENT_PROTOCOL_ERROR', `Agent profile "${this.profile.name}": start() was already called.`, { profile: this.profile.name });
    if (this.disposed || this.killed) throw this.notRunning();
    this.startedAt = performance.now();
    const spawning = (this.overrides.spawnProcess ?? spawnAgentProcess)({
      profile: this.profile.name,
      command: this.profile.command,
      args: this.profile.args,
      env: { ...process.env, ...this.profile.env },
      cwd: this.options.cwd,
      guardianScript: this.overrides.guardianScript,
      signal,
      log: (message) => this.log('warn', message),
    }).catch(rethrowAsAgentError);
    this.spawning = spawning;
    const child = await spawning;
    this.child = child;
    child.onDidExit((exit) => this.onProcessExit(exit));
    this._onDidSpawn.fire(child.identity);
    if (this.killed) {
      await child.kill(0);
      throw this.notRunning();
    }
    return child;
  }

  /**
   * Bounds a handshake step: a timeout kills the agent (AGENT_HANDSHAKE_TIMEOUT), an exit gives
   * AGENT_EXITED_AT_START with the stderr tail, an abort kills it too. Protocol errors go to mapError.
   */
  protected async boundHandshake<T>(step: Promise<T>, signal: AbortSignal | undefined, mapError: (error: unknown) => AgentError | undefined): Promise<T> {
    const child = this.child!;
    let timer: UnfrozenTimer | undefined;
    let onAbort: (() => void) | undefined;
    const timeout = new Promise<never>((_, reject) => {
      // Counts only time this process could run: a window frozen mid-start does not fail its agent.
      timer = setUnfrozenTimeout(
        () =>
          reject(
            new AgentError(
              'AGENT_HANDSHAKE_TIMEOUT',
              `Agent profile "${this.profile.name}": "${this.commandLine()}" did not complete the ${this.profile.adapter} handshake within ${this.profile.handshakeTimeoutMs} ms. ` +
                `Check that the command speaks this protocol, or raise agentPool.profiles.${this.profile.name}.handshakeTimeoutMs if it starts slowly.`,
              { profile: this.profile.name, command: this.profile.command, stderrTail: this.stderrTail(child.stderrTail()) },
            ),
          ),
        this.profile.handshakeTimeoutMs,
      );
    });
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(new AgentError('AGENT_NOT_RUNNING', `Agent profile "${this.profile.name}": start cancelled.`, { profile: this.profile.name, cause: signal?.reason }));
      if (signal?.aborted) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
    const exited = child.exited.then((exit) => {
      throw this.exitedAtStart(exit);
    });
    try {
      return await Promise.race([step, timeout, aborted, exited]);
    } catch (error) {
      const mapped = error instanceof AgentError ? error : (mapError(error) ?? (await this.startFailure(error)));
      await child.kill(0);
      throw mapped;
    } finally {
      timer?.cancel();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
  }

  protected exitedAtStart(exit: AgentProcessExit): AgentError {
    exit = { ...exit, stderrTail: this.stderrTail(exit.stderrTail) };
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.exitCode}`;
    return new AgentError(
      'AGENT_EXITED_AT_START',
      `Agent profile "${this.profile.name}": "${this.commandLine()}" exited at start (${how}) before completing the ${this.profile.adapter} handshake.` +
        (exit.stderrTail ? ` Its last output: ${exit.stderrTail}` : ' It wrote nothing on stderr.') +
        ` Check agentPool.profiles.${this.profile.name}.`,
      { profile: this.profile.name, command: this.profile.command, stderrTail: exit.stderrTail },
    );
  }

  /** The pipe broke during the handshake: an exit at start if the agent is gone, else a protocol error. */
  private async startFailure(cause: unknown): Promise<AgentError> {
    const exit = await Promise.race([this.child!.exited, delay(EXIT_REPORT_WAIT_MS)]);
    if (exit) return this.exitedAtStart(exit);
    return new AgentError('AGENT_PROTOCOL_ERROR', `Agent profile "${this.profile.name}": the ${this.profile.adapter} handshake failed: ${this.redact(errorText(cause))}`, {
      profile: this.profile.name,
      command: this.profile.command,
      cause,
    });
  }

  /** After the pipe to the agent broke: waits briefly for the exit report and explains the crash. */
  protected async crashError(during: string, cause: unknown): Promise<AgentError> {
    const child = this.child;
    const exit = child ? await Promise.race([child.exited, delay(EXIT_REPORT_WAIT_MS)]) : undefined;
    if (!exit) {
      return new AgentError('AGENT_PROTOCOL_ERROR', `Agent profile "${this.profile.name}": the connection broke during ${during}: ${this.redact(errorText(cause))}`, {
        profile: this.profile.name,
        command: this.profile.command,
        cause,
      });
    }
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.exitCode}`;
    const stderrTail = this.stderrTail(exit.stderrTail);
    return new AgentError(
      'AGENT_CRASHED',
      `Agent profile "${this.profile.name}": the agent exited (${how}) during ${during}.` + (stderrTail ? ` Its last output: ${stderrTail}` : ''),
      { profile: this.profile.name, command: this.profile.command, stderrTail, cause },
    );
  }

  protected notRunning(): AgentError {
    return new AgentError('AGENT_NOT_RUNNING', `Agent profile "${this.profile.name}": the agent is not running (start it first, or it has exited).`, {
      profile: this.profile.name,
      command: this.profile.command,
    });
  }

  protected onProcessExit(exit: AgentProcessExit): void {
    this.ready = false;
    this._onDidExit.fire({ exitCode: exit.exitCode, signal: exit.signal, expected: exit.expected || this.disposed, stderrTail: this.stderrTail(exit.stderrTail) });
  }
}

export function delay(ms: number): Promise<undefined> {
  return new Promise((resolve) => setTimeout(() => resolve(undefined), ms).unref());
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
