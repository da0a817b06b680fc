import type { AgentStreamEvent, PromptResult } from '../agents/adapter';
import type { SessionContinuity } from '../conversations/conversation';
import { PoolError } from './errors';
import type { RouteRequest } from './routers/agentRouters';

export interface AcquireOptions extends RouteRequest {
  /** ms to wait for an agent; the pool's acquireTimeoutMs when omitted. */
  timeout?: number;
  signal?: AbortSignal;
  /** Higher goes first; default 0. */
  priority?: number;
  /** Shown as the agent's current task while leased. */
  task?: string;
  /**
   * Only this agent: the request waits for it (while it is busy, starting or restarting) and is
   * never routed elsewhere; it fails at once when the pool has no such agent or it is stopping.
   */
  agentId?: string;
}

export interface TurnOptions {
  onEvent?: (event: AgentStreamEvent) => void;
  /** Cancels the turn: the agent is asked to cancel, and killed if it does not within the grace. */
  signal?: AbortSignal;
}

/** What a leased turn gives back: the answer, its session, and how that session continued the conversation. */
export type TurnResult = PromptResult & {
  sessionId: string;
  /** For a conversation's turn: kept, started, resumed, loaded, or context-lost (then `contextLost` says why). */
  continuity?: SessionContinuity;
  contextLost?: string;
};

/**
 * Sees each turn of a lease, whoever runs it: a conversation's transcript is written from this.
 * Its callbacks must not throw; they run inside the turn.
 */
export interface LeaseTurnObserver {
  /** A turn of the lease starts with `text`; the watch returned sees its events and its end. */
  turnStarted(text: string): LeaseTurnWatch;
}

export interface LeaseTurnWatch {
  onEvent(event: AgentStreamEvent): void;
  ended(outcome: { result: TurnResult } | { error: unknown }): void;
}

/** Where the agent goes back at release: the pool. */
export interface LeaseHost {
  releaseLease(lease: Lease): void;
}

/**
 * Runs a lease's turns: the pool's TurnRunner, called straight from `prompt()`, the one path
 * run()'s turns take too (no pool method in between).
 */
export interface LeaseTurns {
  run(lease: Lease, text: string, options: TurnOptions): Promise<TurnResult>;
}

/**
 * Exclusive use of one agent until `release()`. Turns run one at a time, all in the lease's one
 * session (its conversation's, with `sessionKey`); a lease whose agent died rejects further turns
 * with POOL_AGENT_LOST (a conversation resumes on the next acquire).
 */
export class Lease {
  private releasedFlag = false;
  private turnOpen = false;
  sessionId: string | undefined;
  /** Set by the conversation that holds the lease; undefined for a plain lease (nothing extra per turn). */
  observer: LeaseTurnObserver | undefined;
  private returnedFlag = false;
  private returnedPromise: Promise<void> | undefined;
  private onReturned: (() => void) | undefined;

  constructor(
    private readonly host: LeaseHost,
    private readonly turns: LeaseTurns,
    readonly agentId: string,
    readonly profile: string,
    readonly request: AcquireOptions,
    /** Monotonic ms of the hand-out. */
    readonly acquiredAt: number,
  ) {}

  get released(): boolean {
    return this.releasedFlag;
  }

  async prompt(text: string, options: TurnOptions = {}): Promise<TurnResult> {
    if (this.releasedFlag) throw new PoolError('POOL_LEASE_RELEASED', `the lease on agent ${this.agentId} was already released`);
    if (this.turnOpen) throw new PoolError('POOL_LEASE_RELEASED', `agent ${this.agentId} is still running a turn for this lease; wait for it first`);
    this.turnOpen = true;
    const watch = this.observer?.turnStarted(text);
    const onEvent = options.onEvent;
    const observed = watch ? { ...options, onEvent: (event: AgentStreamEvent) => (watch.onEvent(event), onEvent?.(event)) } : options;
    try {
      // The turn records its session on the lease as soon as it is chosen: every prompt of a lease runs in it.
      const result = await this.turns.run(this, text, observed);
      watch?.ended({ result });
      return result;
    } catch (error) {
      watch?.ended({ error });
      throw error;
    } finally {
      this.turnOpen = false;
      if (this.releasedFlag) this.giveBack();
    }
  }

  /**
   * Resolves once the agent is back in the pool: after release(), and after the turn then open has
   * ended. What holds a conversation for the lease (its record's lock) lets go only then.
   */
  whenReturned(): Promise<void> {
    if (this.returnedFlag) return Promise.resolve();
    this.returnedPromise ??= new Promise<void>((resolve) => {
      this.onReturned = resolve;
    });
    return this.returnedPromise;
  }

  /**
   * Gives the agent back to the pool; safe to call twice. Called mid-turn, the agent goes back once
   * the turn ends: until then its process is still working, and no other lease may prompt it.
   */
  release(): void {
    if (this.releasedFlag) return;
    this.releasedFlag = true;
    if (!this.turnOpen) this.giveBack();
  }

  private giveBack(): void {
    this.returnedFlag = true;
    try {
      this.host.releaseLease(this);
    } finally {
      this.onReturned?.();
    }
  }
}
