import type { PromptResult } from '../agents/adapter';
import type { SessionContinuity } from '../conversations/conversation';
import type { ConversationTable } from '../conversations/conversationTable';
import { errorMessage } from '../common/errors';
import { setUnfrozenTimeout } from '../common/unfrozenClock';
import type { ModuleAffinity } from './routers/affinity';
import type { PooledAgent } from './agentRecord';
import { errorCode, PoolError } from './errors';
import type { TurnOutcome } from './events';
import type { Lease, TurnOptions, TurnResult } from './lease';
import type { SupervisedPool, Supervisor } from './supervisor';
import { SupervisedTurn, type ExpiryKind, type TurnHooks } from './turn';
import { TurnWatchdog } from './watchdog';

/** Errors that say the profile itself is unusable right now: they open the circuit at once. */
const CIRCUIT_TRIPPING_CODES = new Set(['AGENT_RATE_LIMITED', 'AGENT_AUTH_REQUIRED']);
const EXPIRY_REASONS: Record<ExpiryKind, string> = {
  'first-event': 'no first event within the first-event deadline',
  idle: 'idle watchdog fired',
  deadline: 'turn deadline exceeded',
};
const TIMEOUT_CODES = new Set(['AGENT_FIRST_EVENT_TIMEOUT', 'TURN_IDLE_TIMEOUT', 'TURN_DEADLINE_EXCEEDED']);

export interface TurnPool extends SupervisedPool {
  readonly conversations: ConversationTable;
  readonly affinity: ModuleAffinity;
}

/** The session a turn runs in, and for a conversation's turn how it continued the conversation. */
interface ChosenSession {
  sessionId: string;
  continuity?: SessionContinuity;
  contextLost?: string;
}



/**
 * One turn on a leased agent: picks the session (sticky, fresh or reused), runs the prompt under
 * the watchdog and deadline, feeds the circuit breaker, and reports `turn-finished`.
 */
export class TurnRunner {
  private readonly watchdog: TurnWatchdog;

  constructor(
    private readonly pool: TurnPool,
    private readonly supervisor: Supervisor,
  ) {
    this.watchdog = new TurnWatchdog(pool.options.clock);
  }

  /** `startedAt`: run() passes the lease's hand-out time, taken a moment before, to save a clock read. */
  async run(lease: Lease, text: string, options: TurnOptions, startedAt?: number): Promise<TurnResult> {
    const { pool } = this;
    const { clock } = pool.options;
    const agent = pool.agents.get(lease.agentId);
    const connection = agent?.connection;
    if (!agent || agent.lease !== lease || !connection || agent.state === 'unhealthy') {
      throw lostError(agent, lease);
    }
    startedAt ??= clock.monotonicNow();
    let outcome: TurnOutcome = 'failed';
    let result: PromptResult | undefined;
    const turn = agent.beginTurn();
    let chosen: ChosenSession | undefined;
    try {
      const readySession = this.readySession(agent, lease);
      chosen = readySession === undefined ? await this.sessionFor(agent, lease) : undefined;
      const sessionId = readySession ?? chosen!.sessionId;
      // Every prompt of a lease runs in its one session.
      lease.sessionId = sessionId;
      turn.sessionId = sessionId;
      if (turn.abandoned) throw turn.abandoned;
      if (agent.turn !== turn) throw lostError(agent, lease);
      // The watchdog counts from the prompt; with the session at hand that is now, and the clock read is saved.
      const promptAt = readySession === undefined ? clock.monotonicNow() : startedAt;
      const request = { sessionId, text, onEvent: options.onEvent, signal: options.signal };
      result = await new SupervisedTurn(connection, request, pool.options, this.hooksFor(agent, sessionId), this.watchdog, promptAt).run(turn);
      outcome = result.stopReason === 'cancelled' ? 'cancelled' : 'succeeded';
      const leased = result as TurnResult;
      leased.sessionId = sessionId;
      if (chosen?.continuity !== undefined) leased.continuity = chosen.continuity;
      if (chosen?.contextLost !== undefined) leased.contextLost = chosen.contextLost;
      return leased;
    } catch (error) {
      const code = errorCode(error);
      // POOL_AGENT_LOST: the user restarted the agent mid-turn; neither the agent's nor the profile's fault.
      outcome = code === 'POOL_AGENT_LOST' ? 'cancelled' : code !== undefined && TIMEOUT_CODES.has(code) ? 'timed-out' : 'failed';
      // A crash is counted once, by the supervisor, when the process exits.
      const crashed = code === 'AGENT_CRASHED' || code === 'POOL_AGENT_LOST' || agent.connection !== connection || !connection.health().alive;
      if (!crashed) pool.breaker.recordFailure(`${errorMessage(error)}`, code !== undefined && CIRCUIT_TRIPPING_CODES.has(code));
      throw error;
    } finally {
      agent.endTurn(turn);
      if (outcome === 'succeeded') {
        pool.breaker.recordSuccess();
        this.supervisor.consecutiveCrashes = 0;
        pool.affinity.recordSuccess(agent.id, lease.request.sourceModule, lease.request.targetModule);
      }
      const { sessionKey } = lease.request;
      const conversation = sessionKey === undefined ? undefined : pool.conversations.get(sessionKey);
      if (conversation && outcome !== 'failed' && conversation.sessionId === turn.sessionId) {
        conversation.recordTurn(result?.usage, clock.wallNow());
        pool.events.fire({ type: 'conversation', profile: lease.profile, key: conversation.key, change: 'turn', conversation: conversation.info() });
      }
      pool.events.fire({
        type: 'turn-finished',
        agentId: agent.id,
        profile: lease.profile,
        sessionKey: lease.request.sessionKey,
        sourceModule: lease.request.sourceModule,
        targetModule: lease.request.targetModule,
        outcome,
        firstEventMs: result?.firstEventMs,
        totalMs: clock.monotonicNow() - startedAt,
        usage: result?.usage,
      });
    }
  }

  /** Stops the watchdog's timer; turns still running after the pool's shutdown are killed with their agents. */
  dispose(): void {
    this.watchdog.dispose();
  }

  /** Method shorthand, not arrow functions: nothing per turn that a bundler would wrap to keep its name. */
  private hooksFor(agent: PooledAgent, sessionId: string): TurnHooks {
    const runner = this;
    return {
      onExpired(kind, promptSettled) {
        // Out of service at once, before the lease ends: its process may still be running the turn,
        // and a request made right after the timeout must not land on it.
        if (agent.state === 'busy') runner.pool.transition(agent, 'unhealthy', EXPIRY_REASONS[kind]);
        void runner.cancelThenKill(agent, sessionId, promptSettled, kind);
      },
      onCancelUnanswered() {
        void runner.supervisor.retire(agent, 'unhealthy', `did not answer a cancel within ${runner.pool.options.cancelGraceMs} ms`);
      },
    };
  }

  /**
   * The session at hand without waiting: the lease's own after its first prompt, else the agent's
   * own in 'reuse' mode or the opened spare in 'fresh' mode.
   */
  private readySession(agent: PooledAgent, lease: Lease): string | undefined {
    if (lease.request.sessionKey !== undefined) return undefined;
    if (lease.sessionId !== undefined) return lease.sessionId;
    return this.pool.options.sessionMode === 'reuse' ? agent.defaultSession : agent.takeOpenedSpare();
  }

  private async sessionFor(agent: PooledAgent, lease: Lease): Promise<ChosenSession> {
    const { sessionKey } = lease.request;
    const { cwd, sessionMode } = this.pool.options;
    if (sessionKey === undefined) return { sessionId: await agent.takeSession(sessionMode, cwd) };
    const held = agent.stickySessions.get(sessionKey);
    if (held !== undefined) return { sessionId: held, continuity: 'kept' };
    const conversation = this.pool.conversations.open(sessionKey);
    const chosen = await this.continueConversation(agent, conversation);
    if (agent.connection === undefined || this.pool.conversations.get(sessionKey) !== conversation) throw lostError(agent, lease);
    agent.stickySessions.set(sessionKey, chosen.sessionId);
    conversation.agentId = agent.id;
    if (chosen.continuity === 'context-lost') conversation.loseContext(chosen.sessionId, chosen.contextLost!);
    else conversation.sessionId = chosen.sessionId;
    this.pool.events.fire({ type: 'conversation', profile: this.pool.options.profile.name, key: sessionKey, change: chosen.continuity!, reason: chosen.contextLost, conversation: conversation.info() });
    return chosen;
  }

  /**
   * A conversation's session on an agent whose process does not hold it: a new one for a new
   * conversation; otherwise the recorded session, resumed (`session/resume`, else `session/load`).
   * Where the agent can resume nothing, or no longer has the session, a new session, and the reason
   * the earlier context is gone, for the caller to say plainly.
   */
  private async continueConversation(agent: PooledAgent, conversation: { sessionId: string | undefined; usage: { sessionCostUsd?: number } }): Promise<ChosenSession> {
    const connection = agent.connection!;
    const { cwd } = this.pool.options;
    const previous = conversation.sessionId;
    if (previous === undefined) return { sessionId: await connection.openSession({ cwd }), continuity: 'started' };
    const support = connection.sessionSupport?.();
    let why: string;
    if (connection.resumeSession && support && (support.resume || support.load)) {
      try {
        const how = await connection.resumeSession({ sessionId: previous, cwd, sessionCostUsd: conversation.usage.sessionCostUsd });
        return { sessionId: previous, continuity: how };
      } catch (error) {
        // Lost connection or timeout: the turn fails like any other; only "cannot resume this" goes on without context.
        const code = errorCode(error);
        if (code !== 'AGENT_SESSION_NOT_FOUND' && code !== 'AGENT_REQUEST_FAILED') throw error;
        why = `agent ${agent.id} could not resume session ${previous}: ${errorMessage(error)}`;
      }
    } else {
      why = `profile "${this.pool.options.profile.name}" cannot resume sessions (its agent advertises neither session/resume nor session/load), and the process that held session ${previous} is gone`;
    }
    return { sessionId: await connection.openSession({ cwd }), continuity: 'context-lost', contextLost: why };
  }

  /** The watchdog or deadline fired: ask the agent to cancel, give it the grace, then kill its process group. */
  private async cancelThenKill(agent: PooledAgent, sessionId: string, promptSettled: Promise<void>, kind: ExpiryKind): Promise<void> {
    const { clock, cancelGraceMs } = this.pool.options;
    const connection = agent.connection;
    if (!connection) return;
    void connection.cancel(sessionId).catch(() => undefined);
    await new Promise<void>((resolve) => {
      const timer = setUnfrozenTimeout(resolve, cancelGraceMs, clock);
      void promptSettled.then(() => {
        timer.cancel();
        resolve();
      });
    });
    if (agent.connection === connection) {
      await this.supervisor.retire(agent, 'unhealthy', EXPIRY_REASONS[kind]);
    }
  }
}

function lostError(agent: PooledAgent | undefined, lease: Lease): PoolError {
  const why =
    agent?.state === 'unhealthy' && agent.lease === lease
      ? 'its last turn timed out and it is being restarted'
      : agent && agent.lease !== lease && agent.state !== 'stopped'
        ? 'its process was replaced'
        : 'it is gone';
  return new PoolError('POOL_AGENT_LOST', `agent ${lease.agentId} of profile "${lease.profile}" cannot run this turn: ${why}; acquire a new lease`);
}
