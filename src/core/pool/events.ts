import type { TokenUsage } from '../agents/adapter';
import type { ConversationInfo, SessionContinuity } from '../conversations/conversation';

/**
 * What a pool tells the world. The metrics collector, the UI and the CLI build everything they
 * show from these events and from `snapshot()`; they never reach into the pool's internals.
 */

export type AgentState = 'starting' | 'idle' | 'busy' | 'draining' | 'recycling' | 'unhealthy' | 'stopped';

export type CircuitState = 'closed' | 'open' | 'half-open';

/** A pool's circuit as every surface shows it: the state, why it is not closed, and the last failure (also after it closed again). */
export interface CircuitView {
  state: CircuitState;
  reason?: string;
  retryAt?: number;
  lastFailure?: { message: string; at: number };
}

export type TurnOutcome = 'succeeded' | 'failed' | 'cancelled' | 'timed-out';

export interface AgentInfo {
  /** Conversations whose session this agent's process holds. */
  conversations?: number;
  /** Context in use against the window, summed over the conversations it holds ("15k/200k (7.5%)" in the UI). */
  contextUsed?: number;
  contextSize?: number;
  id: string;
  profile: string;
  pid?: number;
  state: AgentState;
  turns: number;
  /** Wall-clock ms, for display. */
  startedAt: number;
  /** A short description of the prompt being worked on while busy. */
  currentTask?: string;
  /** Whole process tree, last sample. */
  rssBytes?: number;
  restarts: number;
}

export interface PoolSnapshot {
  profile: string;
  minAgents: number;
  maxAgents: number;
  strategy: string;
  agents: AgentInfo[];
  queueDepth: number;
  /** `retryAt`: wall-clock ms when an open circuit lets one trial through, for display ("until 12:03"). */
  circuit: CircuitView;
  closed: boolean;
  /** This pool's conversations. */
  conversations?: ConversationInfo[];
}

export type PoolEvent =
  | { type: 'agent-state'; agentId: string; profile: string; from: AgentState | undefined; to: AgentState; reason?: string }
  | { type: 'agent-spawned'; agentId: string; profile: string; pid: number; startMs: number }
  | { type: 'agent-exited'; agentId: string; profile: string; exitCode: number | null; signal: string | null; expected: boolean }
  | {
      type: 'turn-finished';
      agentId: string;
      profile: string;
      sessionKey?: string;
      sourceModule?: string;
      targetModule?: string;
      outcome: TurnOutcome;
      /** Time from sending the prompt to the first streamed event, if any arrived. */
      firstEventMs?: number;
      totalMs: number;
      usage?: TokenUsage;
    }
  | { type: 'queue'; profile: string; depth: number; waitedMs?: number }
  | {
      type: 'scale';
      profile: string;
      direction: 'up' | 'down';
      from: number;
      to: number;
      reason: string;
      /** Wall-clock ms of the decision (optional for compatibility with early emitters). */
      at?: number;
    }
  | { type: 'circuit'; profile: string; state: CircuitState; reason?: string; retryAt?: number; lastFailure?: { message: string; at: number } }
  | { type: 'recycle'; agentId: string; profile: string; reason: 'age' | 'turns' | 'memory' | 'cpu' | 'manual' }
  /**
   * A limit keeps firing: its pool position was recycled `count` times within the hour, the most
   * recycle.maxPerHour allows, so the agent is kept; recycling by limits resumes at `resumesAt` (wall ms).
   */
  | { type: 'recycle-capped'; agentId: string; profile: string; reason: 'age' | 'turns' | 'memory' | 'cpu'; count: number; resumesAt: number }
  /** A crashed agent's restart under the same id (crash restarts only; see user-restart). */
  | { type: 'restart'; agentId: string; profile: string; attempt: number; delayMs: number }
  /** The user asked for a restart: no backoff, no crash, no circuit verdict; counted on its own. */
  | { type: 'user-restart'; agentId: string; profile: string }
  | {
      type: 'conversation';
      profile: string;
      key: string;
      /**
       * What happened: a turn's session was `started`, `kept`, `resumed`, `loaded`, or the conversation
       * went on without its context (`context-lost`, with `reason`); `turn`: a turn ended (usage
       * updated); `closed`: the conversation was ended.
       */
      change: SessionContinuity | 'turn' | 'closed';
      reason?: string;
      conversation: ConversationInfo;
    };

/** Why an agent got a new process: a crash, the user's request, or a recycle (new process, new id). */
export type RestartReason = 'crash' | 'user' | 'recycle';
