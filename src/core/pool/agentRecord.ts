import type { AgentConnection } from '../agents/adapter';
import type { BudgetSlot } from '../budget/budget';
import type { Disposable } from '../common/event';
import { PoolError } from './errors';
import type { AgentInfo, AgentState } from './events';
import type { RecyclableAgent, RecycleReason } from './policies/recycler';
import type { RoutableAgent } from './routers/agentRouters';

/**
 * Which state may follow which. States change only in `AgentTable.transition` (the pool's
 * `transition` for its supervisor, dispatcher and shutdown), which checks this table and fires the
 * one `agent-state` event, so no code path can skip a step.
 */
const ALLOWED_TRANSITIONS: Record<AgentState | 'new', readonly AgentState[]> = {
  new: ['starting'],
  // 'recycling' from starting: a user restart replaces a process still in its handshake.
  starting: ['idle', 'unhealthy', 'draining', 'recycling', 'stopped'],
  idle: ['busy', 'draining', 'recycling', 'unhealthy', 'stopped'],
  busy: ['idle', 'draining', 'recycling', 'unhealthy', 'stopped'],
  draining: ['stopped', 'unhealthy'],
  recycling: ['stopped', 'unhealthy'],
  unhealthy: ['stopped'],
  // A crashed agent is restarted under the same id, so its history (restarts) stays visible.
  stopped: ['starting'],
};

/** The table as from -> to -> true: two property reads on every acquire and release, no array scan. */
const ALLOWED: Record<string, Partial<Record<AgentState, true>>> = Object.fromEntries(
  Object.entries(ALLOWED_TRANSITIONS).map(([from, targets]) => [from, Object.fromEntries(targets.map((to) => [to, true]))]),
);

export function canTransition(from: AgentState | undefined, to: AgentState): boolean {
  return ALLOWED[from ?? 'new'][to] === true;
}

/** The turn in progress on an agent: its session, and how to fail it at once. */
export interface AgentTurn {
  sessionId: string;
  interrupt?: (error: Error) => void;
  abandoned?: Error;
}

/**
 * Why an agent that is down, or going down, comes back under its own id: after a crash (through
 * the restart queue and its backoff), or at once because the user asked (no backoff, no queue).
 */
export type ComingBack = 'after-crash' | 'for-user';

/** A process on its way out: stopped on purpose (retire) or cleaned up after it crashed; `done` once it and its slot are gone. */
export interface Stopping {
  readonly deliberate: boolean;
  readonly done: Promise<void>;
}

/**
 * One logical agent of a pool: its current process, its budget slot and its statistics. Its status
 * (state, who holds it, the running turn, whether it is stopping and whether it comes back) is
 * private: it changes through the verbs below, and its state only through `enter`, which only
 * `AgentTable.transition` calls (after checking the table of allowed changes).
 */
export class PooledAgent implements RoutableAgent, RecyclableAgent {
  private current: AgentState | undefined;
  private holder: object | undefined;
  private running: AgentTurn | undefined;
  private comingBackAs: ComingBack | undefined;
  private stoppingNow: Stopping | undefined;
  private recycleDue: RecycleReason | undefined;
  private process: AgentConnection | undefined;
  private processListeners: Disposable[] = [];
  private heldSlot: BudgetSlot | undefined;
  private processId: number | undefined;
  private readyAt = 0;
  private readyMonotonic = 0;
  private turnCount = 0;
  private processTurnCount = 0;
  private leasedMs = 0;
  private releasedAt = 0;
  private leaseStartedAt = 0;
  private restartCount = 0;
  private task: string | undefined;
  private spare: Promise<string> | undefined;
  private spareId: string | undefined;
  private ownSession: string | undefined;
  /**
   * Monotonic times of this pool position's automatic recycles within the last hour: a replacement
   * inherits its predecessor's, so the cap on recycles per hour sees a loop across new ids.
   */
  recycleHistory: number[] = [];
  /** The limit whose recycle the cap holds back, reported once until a recycle goes through again. */
  recycleCapped: RecycleReason | undefined;
  /** sessionKey -> the conversation's session id, open on this process (its context lives here). */
  readonly stickySessions = new Map<string, string>();

  constructor(
    readonly id: string,
    readonly ordinal: number,
  ) {}

  get state(): AgentState | undefined {
    return this.current;
  }

  /** The lease holding this agent, if any. */
  get lease(): object | undefined {
    return this.holder;
  }

  /** The turn in progress (cleared when it settles). */
  get turn(): AgentTurn | undefined {
    return this.running;
  }

  /** Crashed or being restarted for the user: counts toward the pool's size so nothing double-spawns. */
  get awaitingRestart(): boolean {
    return this.comingBackAs !== undefined;
  }

  /** A user asked for a restart: it skips the crash backoff and the restart queue. */
  get restartingForUser(): boolean {
    return this.comingBackAs === 'for-user';
  }

  /** Settles once the process being stopped (on purpose or after a crash) is gone and its slot is free. */
  get stopping(): Promise<void> | undefined {
    return this.stoppingNow?.done;
  }

  /** The pool is stopping this agent's process on purpose: its exit is expected. */
  get retiring(): boolean {
    return this.stoppingNow?.deliberate === true;
  }

  /** A limit reached mid-lease: recycled as soon as the lease ends, never mid-turn. */
  get recyclePending(): RecycleReason | undefined {
    return this.recycleDue;
  }

  get connection(): AgentConnection | undefined {
    return this.process;
  }

  get slot(): BudgetSlot | undefined {
    return this.heldSlot;
  }

  get pid(): number | undefined {
    return this.processId;
  }

  /** Wall-clock ms the current process became ready. */
  get startedAt(): number {
    return this.readyAt;
  }

  /** Monotonic ms the current process became ready; 0 before. */
  get startedMonotonic(): number {
    return this.readyMonotonic;
  }

  get turns(): number {
    return this.turnCount;
  }

  /** Turns of the current process only: what recycling by turns counts. */
  get processTurns(): number {
    return this.processTurnCount;
  }

  get busyMs(): number {
    return this.leasedMs;
  }

  get lastReleasedAt(): number {
    return this.releasedAt;
  }

  get restarts(): number {
    return this.restartCount;
  }

  get currentTask(): string | undefined {
    return this.task;
  }

  /** The agent's own session ('reuse' mode) or the next fresh one, opened ahead of the lease that takes it. */
  get spareSession(): Promise<string> | undefined {
    return this.spare;
  }

  /** 'reuse' mode: the agent's own session once it has opened. */
  get defaultSession(): string | undefined {
    return this.ownSession;
  }

  get live(): boolean {
    return this.current !== 'stopped' || this.comingBackAs !== undefined;
  }

  /** Only AgentTable.transition calls this, after checking the move is allowed and before updating its indexes. */
  enter(to: AgentState): void {
    this.current = to;
  }

  /** Handed out to `lease` (the table moves it to busy). */
  leaseTo(lease: object, task: string | undefined, now: number): void {
    this.holder = lease;
    this.leaseStartedAt = now;
    this.task = task;
  }

  /** The lease ends: its time counts as busy. False when `lease` no longer holds the agent (its process went). */
  release(lease: object, now: number): boolean {
    if (this.holder !== lease) return false;
    this.holder = undefined;
    this.task = undefined;
    this.leasedMs += now - this.leaseStartedAt;
    this.releasedAt = now;
    return true;
  }

  beginTurn(): AgentTurn {
    const turn: AgentTurn = { sessionId: '' };
    this.running = turn;
    return turn;
  }

  /** The turn settled: counted, whatever its outcome. */
  endTurn(turn: AgentTurn): void {
    if (this.running === turn) this.running = undefined;
    this.turnCount++;
    this.processTurnCount++;
  }

  /** Fails the running turn at once with `error` (the user restarted the agent, its slot was lost). */
  abandonTurn(error: Error): void {
    const turn = this.running;
    if (!turn) return;
    turn.abandoned = error;
    turn.interrupt?.(error);
  }

  /** Recycled when the current lease ends. */
  recycleAfterLease(reason: RecycleReason): void {
    this.recycleDue = reason;
  }

  /** The cap on recycles holds this one back: nothing stays pending. */
  dropPendingRecycle(): void {
    this.recycleDue = undefined;
  }

  /** Comes back under this id once its process is gone (see ComingBack). */
  comeBack(how: ComingBack): void {
    this.comingBackAs = how;
  }

  /** Does not come back: the restart was given up, or is starting now. */
  stayDown(): void {
    this.comingBackAs = undefined;
  }

  /** Its process is being stopped; cleared once `done` settles (unless a newer stop replaced it). */
  stopWith(deliberate: boolean, done: Promise<void>): Promise<void> {
    const stopping: Stopping = { deliberate, done: done.finally(() => {
      if (this.stoppingNow === stopping) this.stoppingNow = undefined;
    }) };
    this.stoppingNow = stopping;
    return stopping.done;
  }

  countRestart(): number {
    return ++this.restartCount;
  }

  /** The budget slot its next process runs under. */
  holdSlot(slot: BudgetSlot): void {
    this.heldSlot = slot;
  }

  /** A new process for this agent; its listeners go with it at detachProcess. */
  attach(connection: AgentConnection, listeners: Disposable[]): void {
    this.process = connection;
    this.processListeners.push(...listeners);
  }

  noteSpawned(pid: number): void {
    this.processId = pid;
  }

  becameReady(wallNow: number, monotonicNow: number): void {
    this.readyAt = wallNow;
    this.readyMonotonic = monotonicNow;
  }

  /** The budget slot, handed over for release once the process is gone. */
  takeSlot(): BudgetSlot | undefined {
    const slot = this.heldSlot;
    this.heldSlot = undefined;
    return slot;
  }

  /** `rssBytes`: the recycle monitor's last sample of this process, which it keeps, not the agent. */
  info(profile: string, rssBytes: number | undefined, conversations?: { values(): Iterable<{ agentId?: string; usage: { contextUsed?: number; contextSize?: number } }> }): AgentInfo {
    let held = 0;
    let contextUsed: number | undefined;
    let contextSize: number | undefined;
    if (conversations && this.stickySessions.size > 0) {
      for (const conversation of conversations.values()) {
        if (conversation.agentId !== this.id) continue;
        held++;
        if (conversation.usage.contextUsed !== undefined) contextUsed = (contextUsed ?? 0) + conversation.usage.contextUsed;
        if (conversation.usage.contextSize !== undefined) contextSize = Math.max(contextSize ?? 0, conversation.usage.contextSize);
      }
    }
    return {
      conversations: held,
      contextUsed,
      contextSize,
      id: this.id,
      profile,
      pid: this.processId,
      state: this.current ?? 'starting',
      turns: this.turnCount,
      startedAt: this.readyAt,
      currentTask: this.task,
      rssBytes,
      restarts: this.restartCount,
    };
  }

  /** Forgets everything tied to the old process. */
  detachProcess(): AgentConnection | undefined {
    const connection = this.process;
    for (const listener of this.processListeners.splice(0)) listener.dispose();
    this.process = undefined;
    this.processId = undefined;
    this.spare?.catch(() => undefined);
    this.spare = undefined;
    this.spareId = undefined;
    this.ownSession = undefined;
    this.stickySessions.clear();
    this.processTurnCount = 0;
    this.recycleDue = undefined;
    this.running = undefined;
    // A lease on a dead process is lost: its next turn fails with POOL_AGENT_LOST, its release is a no-op.
    this.holder = undefined;
    this.task = undefined;
    return connection;
  }

  /** Takes a session for a non-sticky lease: the agent's own in 'reuse' mode, the prepared spare in 'fresh' mode. */
  async takeSession(mode: 'fresh' | 'reuse', cwd: string): Promise<string> {
    const connection = this.process;
    if (!connection) throw new PoolError('POOL_AGENT_LOST', `agent ${this.id} has no running process`);
    if (mode === 'reuse') {
      if (this.ownSession === undefined) {
        const session = await (this.spare ?? connection.openSession({ cwd }));
        this.spare = undefined;
        this.spareId = undefined;
        // The process may have been replaced while the session opened.
        if (this.process !== connection) throw new PoolError('POOL_AGENT_LOST', `agent ${this.id} lost its process while opening a session`);
        this.ownSession = session;
      }
      return this.ownSession;
    }
    const spare = this.spare;
    this.spare = undefined;
    this.spareId = undefined;
    if (spare) {
      try {
        return await spare;
      } catch {
        // A spare that failed (e.g. opened while the agent was busy dying) is replaced, not fatal.
      }
    }
    return connection.openSession({ cwd });
  }

  /**
   * 'fresh' mode: opens the next lease's session while the agent is idle, after a release, so the
   * next prompt finds it open instead of queuing behind session/new. The request goes out on the
   * next turn of the event loop: the caller whose lease just ended gets its result first, instead of
   * waiting for the write that wakes the agent (measured: 80 us of a 0.5 ms round trip). A lease
   * taken within that turn waits for the spare (takeSession), or, for a conversation, sends its
   * prompt ahead of it; agents serve requests on different sessions independently.
   */
  prepareSession(cwd: string): void {
    const connection = this.process;
    if (this.spare || !connection) return;
    const opening = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      if (this.process !== connection) throw new PoolError('POOL_AGENT_LOST', `agent ${this.id} lost its process before its next session opened`);
      return connection.openSession({ cwd });
    });
    // Only the next lease needs it; its failure surfaces there.
    this.noteSpareSession(opening).catch(() => undefined);
  }

  /** The supervisor's first session, opened while the agent warms up, becomes the first lease's. */
  openSpareSession(connection: AgentConnection, cwd: string): Promise<string> {
    return this.noteSpareSession(connection.openSession({ cwd }));
  }

  private noteSpareSession(spare: Promise<string>): Promise<string> {
    this.spare = spare;
    this.spareId = undefined;
    spare.then(
      (sessionId) => {
        if (this.spare === spare) this.spareId = sessionId;
      },
      () => undefined,
    );
    return spare;
  }

  /** 'fresh' mode: the spare session if it has opened, taken now; undefined when the lease must wait for one. */
  takeOpenedSpare(): string | undefined {
    const sessionId = this.spareId;
    if (sessionId !== undefined) {
      this.spare = undefined;
      this.spareId = undefined;
    }
    return sessionId;
  }
}
