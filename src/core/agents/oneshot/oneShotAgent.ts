import { randomUUID } from 'node:crypto';
import { Emitter, type Event } from '../../common/event';
import type { ProcessIdentity } from '../../process/identity';
import { resolveCommand, spawnAgentProcess, type AgentProcess, type AgentProcessExit } from '../../process/spawn';
import type { AgentConnection, AgentConnectionOptions, AgentExit, AgentHealth, AgentProfile, AgentStreamEvent, PromptRequest, PromptResult, StopReason, TokenUsage } from '../adapter';
import { AgentError, adviceFor, classifyAgentFailure, rethrowAsAgentError } from '../agentError';
import { LineSplitter, parseJsonLine } from '../claude/claudeMessages';
import type { ProcessOverrides } from '../longLivedAgent';
import { PROMPT_PLACEHOLDER, type JsonLinesDialect } from '../profiles';
import { DIALECTS } from './dialects';

interface RunningTurn {
  child: AgentProcess;
  cancelled: boolean;
}

/**
 * Agents run cold, one process per prompt: `json-lines` parses the dialect's events
 * (codex exec --json, gemini -p -o stream-json, claude -p --output-format stream-json), `plain`
 * streams stdout as text and judges by the exit code. "Ready" means the program was found;
 * cancel kills the turn's process group. onDidExit fires once, when the connection is killed.
 */
export class OneShotAgent implements AgentConnection {
  readonly lifetime = 'one-shot' as const;
  private readonly _onDidExit = new Emitter<AgentExit>();
  readonly onDidExit: Event<AgentExit> = this._onDidExit.event;
  private readonly _onDidSpawn = new Emitter<ProcessIdentity>();
  readonly onDidSpawn: Event<ProcessIdentity> = this._onDidSpawn.event;
  private readonly turns = new Map<string, RunningTurn>();
  private started = false;
  private stopped = false;
  private lastActivityAt = performance.now();

  constructor(
    readonly profile: AgentProfile,
    private readonly options: AgentConnectionOptions,
    private readonly overrides: ProcessOverrides = {},
  ) {}

  get process(): ProcessIdentity | undefined {
    for (const turn of this.turns.values()) if (!turn.child.hasExited) return turn.child.identity;
    return undefined;
  }

  async start(): Promise<void> {
    if (!resolveCommand(this.profile.command, this.profile.env.PATH ?? process.env.PATH, this.options.cwd)) {
      throw new AgentError(
        'AGENT_BINARY_NOT_FOUND',
        `Agent profile "${this.profile.name}": the program "${this.profile.command}" was not found on PATH or is not executable. ` +
          `Install it, or set an absolute path in agentPool.profiles.${this.profile.name}.command.`,
        { profile: this.profile.name, command: this.profile.command },
      );
    }
    this.started = true;
  }

  async openSession(): Promise<string> {
    if (!this.started || this.stopped) throw this.notRunning();
    return randomUUID();
  }

  async prompt(request: PromptRequest): Promise<PromptResult> {
    if (!this.started || this.stopped) throw this.notRunning();
    if (request.text.startsWith('-')) {
      // Passed as its own argument, such a prompt would be read as an option of the CLI
      // (e.g. --dangerously-skip-permissions); no shell is involved, but the flag would be.
      throw new AgentError(
        'AGENT_REQUEST_FAILED',
        `Agent profile "${this.profile.name}" runs one process per prompt with the prompt as an argument, so a prompt may not start with "-": ${this.profile.command} would read it as an option. Start the prompt with a word.`,
        { profile: this.profile.name, command: this.profile.command },
      );
    }
    const hasPlaceholder = this.profile.args.some((arg) => arg.includes(PROMPT_PLACEHOLDER));
    const args = hasPlaceholder ? this.profile.args.map((arg) => arg.split(PROMPT_PLACEHOLDER).join(request.text)) : [...this.profile.args, request.text];
    const sentAt = performance.now();
    const child = await spawnAgentProcess({
      profile: this.profile.name,
      command: this.profile.command,
      args,
      env: { ...process.env, ...this.profile.env },
      cwd: this.options.cwd,
      guardianScript: this.overrides.guardianScript,
      signal: request.signal,
      log: (message) => this.options.log?.('warn', `[${this.profile.name}] ${message}`),
    }).catch(rethrowAsAgentError);
    const turn: RunningTurn = { child, cancelled: false };
    this.turns.set(request.sessionId, turn);
    this._onDidSpawn.fire(child.identity);
    child.stdin.end();
    const onAbort = () => void this.cancel(request.sessionId);
    request.signal?.addEventListener('abort', onAbort, { once: true });

    const collected = { text: [] as string[], firstEventAt: undefined as number | undefined, end: undefined as { stopReason: StopReason; usage?: TokenUsage } | undefined, error: undefined as string | undefined };
    const emit = (event: AgentStreamEvent) => {
      collected.firstEventAt ??= performance.now();
      if (event.kind === 'text' && event.text) collected.text.push(event.text);
      request.onEvent?.(event);
    };
    const dialect = this.profile.adapter === 'json-lines' ? DIALECTS[(this.profile.dialect ?? 'codex-exec') as JsonLinesDialect] : undefined;
    const lines = new LineSplitter();
    const onLine = (line: string) => {
      const json = parseJsonLine(line);
      if (!json || !dialect) {
        emit({ kind: 'other', text: line });
        return;
      }
      const meaning = dialect(json);
      for (const event of meaning.events ?? []) emit(event);
      if (meaning.end) collected.end = meaning.end;
      if (meaning.error) collected.error ??= meaning.error;
    };
    child.stdout.on('data', (chunk: Buffer) => {
      child.noteActivity();
      this.lastActivityAt = child.lastActivityAt;
      if (dialect) lines.push(chunk, onLine);
      else emit({ kind: 'text', text: chunk.toString() });
    });
    const stdoutDone = new Promise<void>((resolve) => child.stdout.once('close', resolve));
    try {
      const exit = await child.exited;
      await Promise.race([stdoutDone, new Promise((resolve) => setTimeout(resolve, 200))]);
      if (dialect) lines.flush(onLine);
      const base = { text: collected.text.join(''), firstEventMs: collected.firstEventAt === undefined ? undefined : collected.firstEventAt - sentAt, totalMs: performance.now() - sentAt };
      if (turn.cancelled) return { ...base, stopReason: 'cancelled' };
      if (collected.end && !collected.error) return { ...base, stopReason: collected.end.stopReason, usage: collected.end.usage };
      if (!dialect && exit.exitCode === 0) return { ...base, stopReason: 'end_turn' };
      throw this.failure(exit, collected.error, collected.firstEventAt !== undefined);
    } finally {
      this.turns.delete(request.sessionId);
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  async cancel(sessionId: string): Promise<void> {
    const turn = this.turns.get(sessionId);
    if (!turn) return;
    turn.cancelled = true;
    await turn.child.kill(2000);
  }

  health(): AgentHealth {
    return { alive: !this.stopped, ready: this.started && !this.stopped, lastActivityAt: this.lastActivityAt };
  }

  async kill(graceMs = 2000): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const turn of this.turns.values()) turn.cancelled = true;
    await Promise.all([...this.turns.values()].map((turn) => turn.child.kill(graceMs)));
    this._onDidExit.fire({ exitCode: null, signal: null, expected: true, stderrTail: '' });
  }

  dispose(): void {
    void this.kill(0).finally(() => {
      this._onDidExit.dispose();
      this._onDidSpawn.dispose();
    });
  }

  private failure(exit: AgentProcessExit, reported: string | undefined, producedOutput: boolean): AgentError {
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.exitCode}`;
    const explanation = reported ?? exit.stderrTail;
    const classified = classifyAgentFailure(`${reported ?? ''} ${exit.stderrTail}`);
    const code = classified !== 'AGENT_REQUEST_FAILED' ? classified : !producedOutput && exit.exitCode !== 0 ? 'AGENT_EXITED_AT_START' : exit.signal ? 'AGENT_CRASHED' : 'AGENT_REQUEST_FAILED';
    const advice = adviceFor(code, this.profile.name);
    return new AgentError(
      code,
      `Agent profile "${this.profile.name}": "${this.profile.command}" exited (${how}) without finishing the turn` +
        (explanation ? `: ${explanation}` : '.') +
        (advice ? '' : code === 'AGENT_EXITED_AT_START' ? ` Check agentPool.profiles.${this.profile.name}.` : ''),
      { profile: this.profile.name, command: this.profile.command, stderrTail: exit.stderrTail, advice },
    );
  }

  private notRunning(): AgentError {
    return new AgentError('AGENT_NOT_RUNNING', `Agent profile "${this.profile.name}": start() first, and not after kill().`, { profile: this.profile.name });
  }
}
