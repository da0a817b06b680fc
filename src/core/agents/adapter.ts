import type { Disposable, Event } from '../common/event';
import type { ProcessIdentity } from '../process/identity';

/**
 * Everything the pool needs from an agent, whatever protocol it speaks. Readiness comes from the
 * protocol handshake (never from screen text); each adapter hides its own wire format.
 */
export type AdapterKind = 'acp' | 'claude-stream-json' | 'json-lines' | 'plain';

export type PermissionPolicy = 'ask' | 'allowReadOnly' | 'allowAll' | 'reject';

export interface AgentProfile {
  name: string;
  adapter: AdapterKind;
  /** Program to run without a shell: a name on PATH or an absolute path. */
  command: string;
  args: string[];
  env: Record<string, string>;
  permissionPolicy: PermissionPolicy;
  handshakeTimeoutMs: number;
  /** For one-shot adapters, the JSON-lines dialect (`codex-exec`, `gemini`, `claude-print`); ignored otherwise. */
  dialect?: string;
  /** ACP: the sign-in method (an id from the agent's `authMethods`) to pass to `authenticate`. */
  authMethod?: string;
}

export interface AgentStreamEvent {
  kind: 'text' | 'thought' | 'tool-call' | 'tool-call-update' | 'plan' | 'other';
  text?: string;
  /** The protocol's own payload, for logs and for callers that want every detail. */
  raw?: unknown;
}

export interface PromptRequest {
  sessionId: string;
  text: string;
  signal?: AbortSignal;
  onEvent?: (event: AgentStreamEvent) => void;
}

export type StopReason = 'end_turn' | 'max_tokens' | 'max_turn_requests' | 'refusal' | 'cancelled';

/** What a turn cost, as far as the agent reports it. */
export interface TokenUsage {
  inputTokens?: number;
  outputTokens?: number;
  /** This turn's cost: the difference of the session's running totals, never the total itself. */
  costUsd?: number;
  /** The session's running total after this turn, as the agent reported it. */
  sessionCostUsd?: number;
  /** Context tokens in use after this turn (ACP usage_update `used`). */
  contextUsed?: number;
  /** The context window in tokens (ACP usage_update `size`). */
  contextSize?: number;
}

export interface PromptResult {
  stopReason: StopReason;
  /** All text chunks of the answer, joined. */
  text: string;
  firstEventMs?: number;
  totalMs: number;
  usage?: TokenUsage;
}

export interface PermissionRequest {
  profile: string;
  sessionId: string;
  toolCall: { title?: string; kind?: string; toolCallId?: string; raw: unknown };
  options: Array<{ optionId: string; name: string; kind: 'allow_once' | 'allow_always' | 'reject_once' | 'reject_always' }>;
}

/** `undefined` optionId means cancelled. */
export type PermissionHandler = (request: PermissionRequest, signal: AbortSignal) => Promise<{ optionId?: string }>;

export interface AgentHealth {
  alive: boolean;
  ready: boolean;
  /** Monotonic ms of the last byte or event received from the agent. */
  lastActivityAt: number;
}

export interface AgentExit {
  exitCode: number | null;
  signal: string | null;
  /** True when we asked it to stop (kill/dispose); false for crashes. */
  expected: boolean;
  /** Last lines of stderr, to explain a crash. */
  stderrTail: string;
}

/** What an agent can do with a session beyond opening one; all false until start() has resolved. */
export interface SessionSupport {
  /** `session/resume`: continue a session without replaying it. */
  resume: boolean;
  /** `session/load`: continue a session, the agent replaying its history first. */
  load: boolean;
  /** `session/close`: free a session's memory in the agent. */
  close: boolean;
  /** `session/list`. */
  list: boolean;
}

export interface ResumeRequest {
  sessionId: string;
  cwd: string;
  /**
   * The session's running cost total as last reported (by whichever process served it), so the
   * next turn's cost is the difference from it and not the whole total again.
   */
  sessionCostUsd?: number;
}

export interface AgentConnection extends Disposable {
  readonly profile: AgentProfile;
  /** long-lived agents keep one process warm; one-shot ones spawn a process per prompt. */
  readonly lifetime: 'long-lived' | 'one-shot';
  /** The current process, if one runs. */
  readonly process: ProcessIdentity | undefined;
  /** Spawns and completes the handshake; rejects with an AgentError naming the profile and command. */
  start(signal?: AbortSignal): Promise<void>;
  openSession(options: { cwd: string }): Promise<string>;
  /** Session abilities the agent advertised; adapters without sessions across processes leave this out. */
  sessionSupport?(): SessionSupport;
  /**
   * Continues a session that may have been started by another process of the same agent:
   * `session/resume` where advertised, else `session/load`. Rejects with AGENT_SESSION_NOT_FOUND when
   * the agent no longer has it, AGENT_REQUEST_FAILED when it can do neither.
   */
  resumeSession?(request: ResumeRequest): Promise<'resumed' | 'loaded'>;
  /** `session/close` where advertised; resolves false when the agent cannot close sessions. */
  closeSession?(sessionId: string): Promise<boolean>;
  prompt(request: PromptRequest): Promise<PromptResult>;
  /** Asks the agent to cancel the open turn of `sessionId`; the turn's prompt() then resolves with `cancelled`. */
  cancel(sessionId: string): Promise<void>;
  health(): AgentHealth;
  /** SIGTERM to the whole process group, SIGKILL after `graceMs`. Resolves once the process is gone. */
  kill(graceMs?: number): Promise<void>;
  readonly onDidExit: Event<AgentExit>;
  /** Fires with each new process (one-shot adapters spawn per prompt), so its budget slot can be re-bound. */
  readonly onDidSpawn: Event<ProcessIdentity>;
}

export interface AgentConnectionOptions {
  cwd: string;
  permissionHandler?: PermissionHandler;
  log?: (level: 'trace' | 'debug' | 'info' | 'warn' | 'error', message: string) => void;
}
