/**
 * A conversation: what a person has with a coding agent, whose context is the whole value of a
 * warm agent. It is bound to an agent session (ACP session id), served by at most one agent process
 * at a time, and outlives that process where the agent can resume sessions.
 */
export interface ConversationUsage {
  /** Cost of every turn, summed from the per-turn differences of the agent's running totals. */
  costUsd: number;
  /** The agent's running total for the session as last reported, to count the next turn from. */
  sessionCostUsd?: number;
  inputTokens: number;
  outputTokens: number;
  /** Context tokens in use after the last turn that reported it. */
  contextUsed?: number;
  /** The agent's context window, when reported. */
  contextSize?: number;
}

/** What one turn reported (the pool's TokenUsage has this shape; the pool depends on us, not we on it). */
export interface TurnUsage {
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  sessionCostUsd?: number;
  contextUsed?: number;
  contextSize?: number;
}

/** How the conversation's session came to serve the current turn. */
export type SessionContinuity =
  /** The agent process that holds the session served it. */
  | 'kept'
  /** A new conversation: a new session. */
  | 'started'
  /** Another process of the agent took the session over with `session/resume`. */
  | 'resumed'
  /** Another process took it over with `session/load` (the agent replayed the history to itself). */
  | 'loaded'
  /** Nothing could continue the session: the turn runs in a new one, without the earlier context. */
  | 'context-lost';

export interface ConversationInfo {
  key: string;
  profile: string;
  /** The agent session, once one was opened. */
  sessionId: string | undefined;
  /** The agent whose current process holds the session; undefined when none does (it resumes on the next turn). */
  agentId: string | undefined;
  turns: number;
  usage: ConversationUsage;
  /** Wall-clock ms of the last turn's end (or of the start, before any turn). */
  lastUsedAt: number;
  createdAt: number;
  /** Times the conversation went on without its earlier context, and why the last time. */
  contextLost: number;
  contextLostReason?: string;
}

export function emptyUsage(): ConversationUsage {
  return { costUsd: 0, inputTokens: 0, outputTokens: 0 };
}

/** "15k/200k (7.5%)": the context in use against the window; undefined when the agent reported neither. */
export function formatContextUse(usage: Pick<ConversationUsage, 'contextUsed' | 'contextSize'>): string | undefined {
  const { contextUsed, contextSize } = usage;
  if (contextUsed === undefined) return undefined;
  if (!contextSize) return `${formatTokens(contextUsed)} tokens`;
  const percent = (contextUsed / contextSize) * 100;
  return `${formatTokens(contextUsed)}/${formatTokens(contextSize)} (${percent < 10 ? percent.toFixed(1) : Math.round(percent)}%)`;
}

/** "$0.0300": a cost in US dollars as every surface shows it; "-" before any was reported. */
export function formatCostUsd(costUsd: number | undefined): string {
  return costUsd !== undefined && costUsd > 0 ? `$${costUsd.toFixed(4)}` : '-';
}

/** "1.2k in / 300 out". */
export function formatTokenCounts(usage: { inputTokens: number; outputTokens: number }): string {
  return `${formatTokens(usage.inputTokens)} in / ${formatTokens(usage.outputTokens)} out`;
}

/** 850, 15k, 1.2k, 2M: rounded to one decimal, and 999,960 is "1M", never "1000k". */
export function formatTokens(tokens: number): string {
  if (tokens < 1000) return String(Math.round(tokens));
  const thousands = Math.round(tokens / 100) / 10;
  if (thousands < 1000) return `${thousands}k`;
  return `${Math.round(tokens / 100_000) / 10}M`;
}
