import type { AgentConnection, AgentStreamEvent } from '../agents/adapter';
import type { Clock } from '../common/clock';
import { setUnfrozenTimeout, type UnfrozenTimer } from '../common/unfrozenClock';
import type { SessionContinuity } from '../conversations/conversation';
import type { AgentTurn } from './agentRecord';
import { errorCode, PoolError } from './errors';
import type { TurnOutcome } from './events';
import type { TurnResult } from './lease';
import type { TurnWatchdog, WatchedTurn } from './watchdog';

export interface TurnLimits {
  idleWatchdogMs: number;
  turnDeadlineMs: number;
  /** How long a turn may wait for its first event; shorter than the idle watchdog, it names the likely causes. */
  firstEventTimeoutMs: number;
  cancelGraceMs: number;
  clock: Clock;
}

/** The session a turn runs in, and for a conversation's turn how it continued the conversation. */
export interface ChosenSession {
  sessionId: string;
  continuity?: SessionContinuity;
  contextLost?: string;
}

export interface TurnRequest {
  /** The session at hand; without it, `chooseSession` picks one before the prompt. */
  sessionId?: string;
  chooseSession?: () => Promise<ChosenSession>;
  text: string;
  onEvent?: (event: AgentStreamEvent) => void;
  signal?: AbortSignal;
  /** Stamped on the result (run() answers with the agent that served it). */
  agentId?: string;
}

export type ExpiryKind = 'first-event' | 'idle' | 'deadline';

/** Errors that end a turn as timed out rather than failed. */
const TIMEOUT_CODES = new Set(['AGENT_FIRST_EVENT_TIMEOUT', 'TURN_IDLE_TIMEOUT', 'TURN_DEADLINE_EXCEEDED']);

/**
 * What the turn's owner does about it; each call gets the turn. Only the two judgements are
 * required: a bare turn (the watchdog's unit test) has no pool behind it.
 */
export interface TurnHooks<Owner = unknown> {
  /** The idle watchdog or the deadline fired: the turn is already failed; the agent must be cancelled then killed. */
  onExpired(kind: ExpiryKind, promptSettled: Promise<void>, turn: Turn<Owner>): void;
  /** The caller cancelled and the agent did not answer within the grace: it must be killed. */
  onCancelUnanswered(turn: Turn<Owner>): void;
  /** The session is chosen, the prompt not yet sent: throws when the turn must not go on (its agent went meanwhile). */
  onSessionChosen?(turn: Turn<Owner>, sessionId: string): void;
  /** Once, however the turn ended; `totalMs` from the turn's start (session choice included). */
  onSettled?(turn: Turn<Owner>, outcome: TurnOutcome, result: TurnResult | undefined, error: unknown, totalMs: number): void;
}

/**
 * One turn, from the session choice to its outcome: it picks the session (or takes the one at
 * hand), sends the prompt, keeps the idle watchdog and deadline (through the pool's one
 * TurnWatchdog timer), gives the caller's cancel its grace, completes the result once, names the
 * outcome, and times it all from one start. `run()` and `lease.prompt()` both come here (through
 * TurnRunner). Methods rather than closures: one turn runs per prompt, and the hot path should
 * allocate as little as it can.
 */
export class Turn<Owner = unknown> implements WatchedTurn {
  /** Monotonic ms the turn started; the prompt's start too when the session was at hand. */
  private readonly startedAt: number;
  private promptAt: number;
  private deadlineAt: number;
  private lastEventAt: number;
  private firstEventAt: number | undefined;
  private text = '';
  private settled = false;
  private cancelGrace: UnfrozenTimer | undefined;
  private abortListener: (() => void) | undefined;
  private prompt!: Promise<TurnResult>;
  private resolve!: (result: TurnResult) => void;
  private reject!: (error: unknown) => void;
  private chosen: ChosenSession = { sessionId: '' };

  constructor(
    readonly connection: AgentConnection,
    private readonly request: TurnRequest,
    private readonly limits: TurnLimits,
    private readonly hooks: TurnHooks<Owner>,
    private readonly watchdog: TurnWatchdog,
    /** Monotonic ms the turn starts; the caller's own reading when it has one. */
    startedAt = limits.clock.monotonicNow(),
    /** Whose turn it is, for the hooks (the pool's agent and lease). */
    readonly owner?: Owner,
    /** The agent's record of its running turn: how the pool fails it at once. */
    private readonly control?: AgentTurn,
  ) {
    this.startedAt = startedAt;
    this.promptAt = startedAt;
    this.deadlineAt = startedAt + limits.turnDeadlineMs;
    this.lastEventAt = startedAt;
  }

  /** With the session at hand, the prompt goes out before this returns. */
  run(): Promise<TurnResult> {
    const { sessionId, chooseSession } = this.request;
    if (sessionId === undefined && chooseSession) return this.settle(chooseSession().then((chosen) => this.promptIn(chosen, true)));
    let prompted: Promise<TurnResult>;
    try {
      prompted = this.promptIn({ sessionId: sessionId ?? '' }, false);
    } catch (error) {
      prompted = Promise.reject(error);
    }
    return this.settle(prompted);
  }

  private promptIn(chosen: ChosenSession, opened: boolean): Promise<TurnResult> {
    const { sessionId } = chosen;
    this.chosen = chosen;
    if (this.control) this.control.sessionId = sessionId;
    this.hooks.onSessionChosen?.(this, sessionId);
    // The watchdog counts from the prompt: after a session had to open, that is now.
    if (opened) {
      this.promptAt = this.limits.clock.monotonicNow();
      this.deadlineAt = this.promptAt + this.limits.turnDeadlineMs;
      this.lastEventAt = this.promptAt;
    }
    const settledPromise = new Promise<TurnResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (this.control) this.control.interrupt = (error) => this.finish(error);
    const { request } = this;
    this.prompt = this.connection.prompt({ sessionId, text: request.text, onEvent: forwardEvents(this) }) as Promise<TurnResult>;
    this.prompt.then(
      (result) => this.succeed(result),
      (error: unknown) => this.finish(error),
    );
    this.watchdog.watch(this);
    const { signal } = request;
    if (signal) {
      if (signal.aborted) this.onAbort();
      else {
        this.abortListener = () => this.onAbort();
        signal.addEventListener('abort', this.abortListener, { once: true });
      }
    }
    return settledPromise;
  }

  /** The outcome, named once, and the owner told once, with the time from the turn's start. */
  private settle(running: Promise<TurnResult>): Promise<TurnResult> {
    const { hooks } = this;
    if (!hooks.onSettled) return running;
    return running.then(
      (result) => {
        hooks.onSettled!(this, result.stopReason === 'cancelled' ? 'cancelled' : 'succeeded', result, undefined, this.limits.clock.monotonicNow() - this.startedAt);
        return result;
      },
      (error: unknown) => {
        hooks.onSettled!(this, failedOutcome(error), undefined, error, this.limits.clock.monotonicNow() - this.startedAt);
        throw error;
      },
    );
  }

  /** When the watchdog or the deadline would fire, whichever comes first. */
  dueAt(): number {
    const idleAt = this.lastEventAt + this.limits.idleWatchdogMs;
    const firstEventAt = this.firstEventAt === undefined ? this.promptAt + this.limits.firstEventTimeoutMs : Infinity;
    return Math.min(idleAt, this.deadlineAt, firstEventAt);
  }

  /** Called by the watchdog's timer: fails the turn if it went quiet too long or ran past its deadline. */
  expireIfDue(now: number): boolean {
    if (this.settled) {
      this.watchdog.unwatch(this);
      return true;
    }
    if (now >= this.deadlineAt) this.expire('deadline', now);
    else if (this.firstEventAt === undefined && now - this.promptAt >= this.limits.firstEventTimeoutMs) this.expire('first-event', now);
    else if (now - this.lastEventAt >= this.limits.idleWatchdogMs) this.expire('idle', now);
    else return false;
    return true;
  }

  /** An event from the agent: feeds the watchdog, then the caller. */
  receive(event: AgentStreamEvent): void {
    this.lastEventAt = this.limits.clock.monotonicNow();
    this.firstEventAt ??= this.lastEventAt;
    if (event.kind === 'text' && event.text) this.text += event.text;
    if (!this.settled) this.request.onEvent?.(event);
  }

  private succeed(result: TurnResult): void {
    result.firstEventMs ??= this.firstEventMs();
    this.finish(undefined, result);
  }

  private finish(error: unknown, result?: TurnResult): void {
    if (this.settled) return;
    this.settled = true;
    this.watchdog.unwatch(this);
    this.cancelGrace?.cancel();
    if (this.abortListener) this.request.signal?.removeEventListener('abort', this.abortListener);
    if (error) this.reject(error);
    else this.resolve(this.complete(result!));
  }

  /** The one place the result is completed: the adapter's object is this turn's own, so in place rather than copied. */
  private complete(result: TurnResult): TurnResult {
    const { chosen } = this;
    result.sessionId = chosen.sessionId;
    if (chosen.continuity !== undefined) result.continuity = chosen.continuity;
    if (chosen.contextLost !== undefined) result.contextLost = chosen.contextLost;
    if (this.request.agentId !== undefined) (result as TurnResult & { agentId: string }).agentId = this.request.agentId;
    return result;
  }

  private expire(kind: ExpiryKind, now: number): void {
    const profile = this.connection.profile.name;
    const { idleWatchdogMs, turnDeadlineMs, firstEventTimeoutMs } = this.limits;
    const seconds = Math.round(firstEventTimeoutMs / 100) / 10;
    const error =
      kind === 'first-event'
        ? new PoolError(
            'AGENT_FIRST_EVENT_TIMEOUT',
            `Agent "${profile}" sent nothing within ${seconds} s of the prompt (first-event deadline); the turn was cancelled and the agent is being restarted. ` +
              'Likely causes: no network (or a proxy the agent cannot pass), a sign-in that is missing or expired, or a provider rate limit.',
            {
              advice: {
                vscode: `Check the agent's log (Agent Pool: Show Agent Log) for its own reason; raise agentPool.pool.firstEventTimeoutSeconds if the agent is just slow to start answering.`,
                cli: 'Run again with --verbose to see the agent\'s log; if the agent is just slow to start answering, give it longer with --first-event-timeout (e.g. 2m).',
              },
            },
          )
        : kind === 'idle'
          ? new PoolError(
            'TURN_IDLE_TIMEOUT',
            `Agent "${profile}" sent nothing for ${Math.round(now - this.lastEventAt)} ms (idle watchdog ${idleWatchdogMs} ms); the turn was cancelled and the agent is being restarted.`,
          )
          : new PoolError('TURN_DEADLINE_EXCEEDED', `Agent "${profile}" did not finish the turn within ${turnDeadlineMs} ms; the turn was cancelled and the agent is being restarted.`);
    this.finish(error);
    this.hooks.onExpired(
      kind,
      this.prompt.then(
        () => undefined,
        () => undefined,
      ),
      this,
    );
  }

  private onAbort(): void {
    if (this.settled || this.cancelGrace) return;
    const { clock, cancelGraceMs } = this.limits;
    void this.connection.cancel(this.chosen.sessionId).catch(() => undefined);
    // The agent is judged on this grace too (unanswered: killed), so a freeze of ours does not count.
    this.cancelGrace = setUnfrozenTimeout(
      () => {
        if (this.settled) return;
        this.finish(undefined, { stopReason: 'cancelled', text: this.text, totalMs: clock.monotonicNow() - this.promptAt, firstEventMs: this.firstEventMs(), sessionId: this.chosen.sessionId });
        this.hooks.onCancelUnanswered(this);
      },
      cancelGraceMs,
      clock,
    );
  }

  private firstEventMs(): number | undefined {
    return this.firstEventAt === undefined ? undefined : this.firstEventAt - this.promptAt;
  }
}

/** POOL_AGENT_LOST: the user restarted the agent mid-turn; neither the agent's nor the profile's fault. */
function failedOutcome(error: unknown): TurnOutcome {
  const code = errorCode(error);
  return code === 'POOL_AGENT_LOST' ? 'cancelled' : code !== undefined && TIMEOUT_CODES.has(code) ? 'timed-out' : 'failed';
}

/** Returned, not assigned to a property: a bundler keeping names would otherwise rename it on every turn. */
function forwardEvents(turn: Turn<unknown>): (event: AgentStreamEvent) => void {
  return (event) => turn.receive(event);
}
