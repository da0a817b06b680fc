import type { ConversationTable } from '../conversations/conversationTable';
import { errorMessage } from '../common/errors';
import { setUnfrozenTimeout } from '../common/unfrozenClock';
import type { ModuleAffinity } from './routers/affinity';
import type { AgentTurn, PooledAgent } from './agentRecord';
import { errorCode, PoolError } from './errors';
import type { TurnOutcome } from './events';
import type { Lease, TurnOptions, TurnResult } from './lease';
import type { SupervisedPool, Supervisor } from './supervisor';
import { Turn, type ChosenSession, type ExpiryKind, type TurnHooks } from './turn';
import { TurnWatchdog } from './watchdog';

/** Errors that say the profile itself is unusable right now: they open the circuit at once. */
const CIRCUIT_TRIPPING_CODES = new Set(['AGENT_RATE_LIMITED', 'AGENT_AUTH_REQUIRED']);
const EXPIRY_REASONS: Record<ExpiryKind, string> = {
  'first-event': 'no first event within the first-event deadline',
  idle: 'idle watchdog fired',
  deadline: 'turn deadline exceeded',
};

export interface TurnPool extends SupervisedPool {
  readonly conversations: ConversationTable;
  readonly affinity: ModuleAffinity;
}

/** Whose turn it is: the agent, its lease, and the agent's record of the running turn. */
interface TurnOwner {
  agent: PooledAgent;
  lease: Lease;
  record: AgentTurn;
}

/**
 * Starts each turn of a pool (see Turn) and acts on what the turns report: the session choice
 * (sticky, fresh or reused; a conversation's resumed), the agent put out of service when its turn
 * expires, the circuit breaker fed, `turn-finished` fired. One object per pool serves as every
 * turn's hooks, so a turn allocates none.
 */
export class TurnRunner implements TurnHooks<TurnOwner> {
  private readonly watchdog: TurnWatchdog;

  constructor(
    private readonly pool: TurnPool,
    private readonly supervisor: Supervisor,
  ) {
    this.watchdog = new TurnWatchdog(pool.options.clock);
  }

  /**
   * One turn on a leased agent; `startedAt` and `agentId` from run(), which has the lease's
   * hand-out time (a clock read saved) and answers with the agent that served it.
   */
  run(lease: Lease, text: string, options: TurnOptions, startedAt?: number, agentId?: string): Promise<TurnResult> {
    const { pool } = this;
    const agent = pool.agents.get(lease.agentId);
    const connection = agent?.connection;
    if (!agent || agent.lease !== lease || !connection || agent.state === 'unhealthy') {
      return Promise.reject(lostError(agent, lease));
    }
    const sessionId = this.readySession(agent, lease);
    const request = {
      sessionId,
      chooseSession: sessionId === undefined ? () => this.sessionFor(agent, lease) : undefined,
      text,
      onEvent: options.onEvent,
      signal: options.signal,
      agentId,
    };
    const record = agent.beginTurn();
    return new Turn<TurnOwner>(connection, request, pool.options, this, this.watchdog, startedAt, { agent, lease, record }, record).run();
  }

  /** Stops the watchdog's timer; turns still running after the pool's shutdown are killed with their agents. */
  dispose(): void {
    this.watchdog.dispose();
  }

  onSessionChosen(turn: Turn<TurnOwner>, sessionId: string): void {
    const { agent, lease, record } = turn.owner!;
    // Every prompt of a lease runs in its one session.
    lease.sessionId = sessionId;
    if (record.abandoned) throw record.abandoned;
    if (agent.turn !== record) throw lostError(agent, lease);
  }

  onExpired(kind: ExpiryKind, promptSettled: Promise<void>, turn: Turn<TurnOwner>): void {
    const { agent, record } = turn.owner!;
    // Out of service at once, before the lease ends: its process may still be running the turn,
    // and a request made right after the timeout must not land on it.
    if (agent.state === 'busy') this.pool.transition(agent, 'unhealthy', EXPIRY_REASONS[kind]);
    void this.cancelThenKill(agent, record.sessionId, promptSettled, kind);
  }

  onCancelUnanswered(turn: Turn<TurnOwner>): void {
    void this.supervisor.retire(turn.owner!.agent, 'unhealthy', `did not answer a cancel within ${this.pool.options.cancelGraceMs} ms`);
  }

  onSettled(turn: Turn<TurnOwner>, outcome: TurnOutcome, result: TurnResult | undefined, error: unknown, totalMs: number): void {
    const { pool } = this;
    const { agent, lease, record } = turn.owner!;
    if (error !== undefined) {
      const code = errorCode(error);
      // A crash is counted once, by the supervisor, when the process exits.
      const crashed = code === 'AGENT_CRASHED' || code === 'POOL_AGENT_LOST' || agent.connection !== turn.connection || !turn.connection.health().alive;
      if (!crashed) pool.breaker.recordFailure(`${errorMessage(error)}`, code !== undefined && CIRCUIT_TRIPPING_CODES.has(code));
    }
    agent.endTurn(record);
    if (outcome === 'succeeded') {
      pool.breaker.recordSuccess();
      this.supervisor.consecutiveCrashes = 0;
      pool.affinity.recordSuccess(agent.id, lease.request.sourceModule, lease.request.targetModule);
    }
    const { sessionKey } = lease.request;
    const conversation = sessionKey === undefined ? undefined : pool.conversations.get(sessionKey);
    if (conversation && outcome !== 'failed' && conversation.sessionId === record.sessionId) {
      conversation.recordTurn(result?.usage, pool.options.clock.wallNow());
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
      totalMs,
      usage: result?.usage,
    });
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
