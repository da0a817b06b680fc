import type { AgentConnection, AgentStreamEvent, PromptResult } from '../agents/adapter';
import type { Clock } from '../common/clock';
import { setUnfrozenTimeout, type UnfrozenTimer } from '../common/unfrozenClock';
import { PoolError } from './errors';
import type { TurnWatchdog, WatchedTurn } from './watchdog';

export interface TurnLimits {
  idleWatchdogMs: number;
  turnDeadlineMs: number;
  /** How long a turn may wait for its first event; shorter than the idle watchdog, it names the likely causes. */
  firstEventTimeoutMs: number;
  cancelGraceMs: number;
  clock: Clock;
}

export interface TurnRequest {
  sessionId: string;
  text: string;
  onEvent?: (event: AgentStreamEvent) => void;
  signal?: AbortSignal;
}

export type ExpiryKind = 'first-event' | 'idle' | 'deadline';

/** Filled in by superviseTurn: fails the turn at once (e.g. the user restarted the agent). */
export interface TurnControl {
  interrupt?: (error: Error) => void;
}

export interface TurnHooks {
  /** The idle watchdog or the deadline fired: the turn is already failed; the agent must be cancelled then killed. */
  onExpired(kind: ExpiryKind, promptSettled: Promise<void>): void;
  /** The caller cancelled and the agent did not answer within the grace: it must be killed. */
  onCancelUnanswered(): void;
}

/**
 * Runs one prompt under supervision: the idle watchdog and deadline (through the pool's
 * TurnWatchdog), and the caller's cancel with its grace. Methods rather than closures: one turn
 * runs per prompt, and the hot path should allocate as little as it can.
 */
export class SupervisedTurn implements WatchedTurn {
  private readonly startedAt: number;
  private readonly deadlineAt: number;
  private lastEventAt: number;
  private firstEventAt: number | undefined;
  private text = '';
  private settled = false;
  private cancelGrace: UnfrozenTimer | undefined;
  private abortListener: (() => void) | undefined;
  private prompt!: Promise<PromptResult>;
  private resolve!: (result: PromptResult) => void;
  private reject!: (error: unknown) => void;

  constructor(
    private readonly connection: AgentConnection,
    private readonly request: TurnRequest,
    private readonly limits: TurnLimits,
    private readonly hooks: TurnHooks,
    private readonly watchdog: TurnWatchdog,
    /** Monotonic ms the prompt is sent; the caller's own reading when it has one. */
    startedAt = limits.clock.monotonicNow(),
  ) {
    this.startedAt = startedAt;
    this.deadlineAt = this.startedAt + limits.turnDeadlineMs;
    this.lastEventAt = this.startedAt;
  }

  run(control?: TurnControl): Promise<PromptResult> {
    const settledPromise = new Promise<PromptResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    if (control) control.interrupt = (error) => this.finish(error);
    const { request } = this;
    this.prompt = this.connection.prompt({ sessionId: request.sessionId, text: request.text, onEvent: forwardEvents(this) });
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

  /** When the watchdog or the deadline would fire, whichever comes first. */
  dueAt(): number {
    const idleAt = this.lastEventAt + this.limits.idleWatchdogMs;
    const firstEventAt = this.firstEventAt === undefined ? this.startedAt + this.limits.firstEventTimeoutMs : Infinity;
    return Math.min(idleAt, this.deadlineAt, firstEventAt);
  }

  /** Called by the watchdog's timer: fails the turn if it went quiet too long or ran past its deadline. */
  expireIfDue(now: number): boolean {
    if (this.settled) {
      this.watchdog.unwatch(this);
      return true;
    }
    if (now >= this.deadlineAt) this.expire('deadline', now);
    else if (this.firstEventAt === undefined && now - this.startedAt >= this.limits.firstEventTimeoutMs) this.expire('first-event', now);
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

  private succeed(result: PromptResult): void {
    // The adapter's result is this turn's own object: complete it in place rather than copy it.
    result.firstEventMs ??= this.firstEventMs();
    this.finish(undefined, result);
  }

  private finish(error: unknown, result?: PromptResult): void {
    if (this.settled) return;
    this.settled = true;
    this.watchdog.unwatch(this);
    this.cancelGrace?.cancel();
    if (this.abortListener) this.request.signal?.removeEventListener('abort', this.abortListener);
    if (error) this.reject(error);
    else this.resolve(result!);
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
    );
  }

  private onAbort(): void {
    if (this.settled || this.cancelGrace) return;
    const { clock, cancelGraceMs } = this.limits;
    void this.connection.cancel(this.request.sessionId).catch(() => undefined);
    // The agent is judged on this grace too (unanswered: killed), so a freeze of ours does not count.
    this.cancelGrace = setUnfrozenTimeout(
      () => {
        if (this.settled) return;
        this.finish(undefined, { stopReason: 'cancelled', text: this.text, totalMs: clock.monotonicNow() - this.startedAt, firstEventMs: this.firstEventMs() });
        this.hooks.onCancelUnanswered();
      },
      cancelGraceMs,
      clock,
    );
  }

  private firstEventMs(): number | undefined {
    return this.firstEventAt === undefined ? undefined : this.firstEventAt - this.startedAt;
  }
}

/** Returned, not assigned to a property: a bundler keeping names would otherwise rename it on every turn. */
function forwardEvents(turn: SupervisedTurn): (event: AgentStreamEvent) => void {
  return (event) => turn.receive(event);
}
