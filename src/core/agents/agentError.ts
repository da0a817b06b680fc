import { AgentPoolError, type SurfaceAdvice } from '../common/errors';
import { SpawnError } from '../process/spawn';

export type AgentErrorCode =
  | 'AGENT_BINARY_NOT_FOUND'
  | 'AGENT_HANDSHAKE_TIMEOUT'
  | 'AGENT_EXITED_AT_START'
  | 'AGENT_CRASHED'
  | 'AGENT_AUTH_REQUIRED'
  | 'AGENT_RATE_LIMITED'
  | 'AGENT_PROTOCOL_ERROR'
  /** The program exists but could not be started (not executable, guardian bundle missing). */
  | 'AGENT_SPAWN_FAILED'
  /** The agent answered a request with an error that is neither auth nor rate limit. */
  | 'AGENT_REQUEST_FAILED'
  /** A call that needs a started, live agent came before start() or after the process exited. */
  | 'AGENT_NOT_RUNNING'
  /** The agent does not have the session asked for (ACP -32002 "resource not found"). */
  | 'AGENT_SESSION_NOT_FOUND';

export interface AgentErrorDetails {
  /** The profile name, as the user wrote it in agentPool.profiles. */
  profile: string;
  command?: string;
  /** Last lines the agent wrote to stderr, when they help explain the failure. */
  stderrTail?: string;
  /** The JSON-RPC error code the agent answered with, if any. */
  rpcCode?: number;
  /** The agent's own detail (a JSON-RPC error's `data`), as text. */
  agentDetail?: string;
  /** What to do, for each surface; appended to the message. */
  advice?: SurfaceAdvice;
  cause?: unknown;
}

/**
 * An agent failure with a code the pool branches on (auth and rate limit open the circuit at once,
 * a missing binary is never retried) and a message that names the profile and says what to do.
 */
export class AgentError extends AgentPoolError {
  readonly profile: string;
  readonly command: string | undefined;
  readonly stderrTail: string | undefined;
  readonly rpcCode: number | undefined;
  readonly agentDetail: string | undefined;

  constructor(
    override readonly code: AgentErrorCode,
    message: string,
    details: AgentErrorDetails,
  ) {
    super(code, message, { cause: details.cause, advice: details.advice });
    this.name = 'AgentError';
    this.profile = details.profile;
    this.command = details.command;
    this.stderrTail = details.stderrTail;
    this.rpcCode = details.rpcCode;
    this.agentDetail = details.agentDetail;
  }
}

/** A failed start of the agent's process, as the pool sees agent errors; anything else passes through. */
export function asAgentError(error: unknown): unknown {
  return error instanceof SpawnError ? new AgentError(error.code, error.message, error.details) : error;
}

/** Rejects with asAgentError(error): for `.catch` on a spawn. */
export function rethrowAsAgentError(error: unknown): never {
  throw asAgentError(error);
}

/** True for failures that restarting the agent cannot fix: the pool should open its circuit at once. */
export function isConfigurationError(error: unknown): boolean {
  return (
    error instanceof AgentError &&
    (error.code === 'AGENT_AUTH_REQUIRED' ||
      error.code === 'AGENT_RATE_LIMITED' ||
      error.code === 'AGENT_BINARY_NOT_FOUND' ||
      error.code === 'AGENT_SPAWN_FAILED')
  );
}

const AUTH_PATTERN = /authenticat|unauthori[sz]ed|api[ _-]?key|credential|not logged in|log ?in required|\b401\b|forbidden/i;
const RATE_LIMIT_PATTERN = /rate[ _-]?limit|\b429\b|too many requests|quota|resource[ _]exhausted|overloaded/i;

/**
 * Classifies an agent's error text the way real agents phrase it: claude-agent-acp and codex-acp
 * say -32000 "Authentication required", gemini says "Gemini API key is missing or not configured.",
 * providers say 429 / "rate limit" / "quota".
 */
export function classifyAgentFailure(message: string, rpcCode?: number, data?: unknown): AgentErrorCode {
  const dataText = data === undefined ? '' : safeStringify(data);
  const text = `${message} ${dataText}`;
  if (RATE_LIMIT_PATTERN.test(text)) return 'AGENT_RATE_LIMITED';
  if (AUTH_PATTERN.test(text)) return 'AGENT_AUTH_REQUIRED';
  if (rpcCode === -32000 && /auth/i.test(text)) return 'AGENT_AUTH_REQUIRED';
  return 'AGENT_REQUEST_FAILED';
}

function safeStringify(value: unknown): string {
  try {
    return typeof value === 'string' ? value : (JSON.stringify(value) ?? '');
  } catch {
    return '';
  }
}

/** The advice appended to auth and rate-limit messages so people know the pool will not retry blindly. */
export function adviceFor(code: AgentErrorCode, profile: string): SurfaceAdvice | undefined {
  switch (code) {
    case 'AGENT_AUTH_REQUIRED':
      return {
        vscode: `Sign in to the agent or set its API key (for example in agentPool.profiles.${profile}.env), then start the pool again.`,
        cli: `Sign in to the agent or set its API key in the environment of this command (or in the "env" of profile "${profile}" in a --profiles FILE), then run again.`,
      };
    case 'AGENT_RATE_LIMITED': {
      const text = `The provider is rate-limiting profile "${profile}"; the pool pauses it and tries again after a cooldown.`;
      return { vscode: text, cli: `The provider is rate-limiting profile "${profile}"; wait a while and run again.` };
    }
    default:
      return undefined;
  }
}

/**
 * A JSON-RPC error's `data` as one short line: claude-agent-acp puts the real reason there
 * ({details: "Query closed before response received"}) behind a bare -32603 "Internal error".
 */
export function describeAgentData(data: unknown): string | undefined {
  if (data === undefined || data === null || data === '') return undefined;
  let text: string;
  if (typeof data === 'string') text = data;
  else if (typeof data === 'object' && !Array.isArray(data)) {
    const fields = data as Record<string, unknown>;
    const preferred = ['details', 'detail', 'message', 'error', 'reason'].map((key) => fields[key]).find((value) => typeof value === 'string' && value !== '');
    if (typeof preferred === 'string') {
      // The readable field, then whatever else the agent said (codex: {message, codex_error_info}).
      const rest = Object.entries(fields).filter(([, value]) => value !== preferred);
      text = rest.length === 0 ? preferred : `${preferred}; ${rest.map(([key, value]) => `${key}: ${typeof value === 'string' ? value : safeStringify(value)}`).join(', ')}`;
    } else text = safeStringify(data);
  } else text = safeStringify(data) ?? String(data);
  text = text.replace(/\s+/g, ' ').trim();
  return text.length > 400 ? `${text.slice(0, 399)}…` : text || undefined;
}

/**
 * The message of an AgentError without its leading `Agent profile "<name>"`, for a caller that
 * names the profile itself ("Agent profile "x" (command "y") could not start: …"): no stutter.
 */
export function withoutProfilePrefix(message: string, profile: string): string {
  const prefix = `Agent profile "${profile}"`;
  if (!message.startsWith(prefix)) return message;
  return message.slice(prefix.length).replace(/^[:,]?\s*/, '');
}
