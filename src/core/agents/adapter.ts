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
  costUsd?: number;
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

export interface AgentConnection extends Disposable {
  readonly profile: AgentProfile;
  /** long-lived agents keep one process warm; one-shot ones spawn a process per prompt. */
  readonly lifetime: 'long-lived' | 'one-shot';
  /** The current process, if one runs. */
  readonly process: ProcessIdentity | undefined;
  /** Spawns and completes the handshake; rejects with an AgentError naming the profile and command. */
  start(signal?: AbortSignal): Promise<void>;
  openSession(options: { cwd: string }): Promise<string>;
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
