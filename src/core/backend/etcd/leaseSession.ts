import { systemClock, type Clock, type TimerHandle } from '../../common/clock';
import { errorMessage } from '../../common/errors';
import { Emitter } from '../../common/event';
import type { CoreLogger } from '../../common/logger';
import { EtcdError, type EtcdGateway } from './gateway';

export type LeaseState = { kind: 'held'; leaseId: string; generation: number } | { kind: 'lost'; reason: string };

/**
 * This participant's etcd lease: every slot, the window record and the metrics summary are bound to
 * it, so they vanish together one TTL after the participant falls silent.
 *
 * Fencing: etcd cannot tell a frozen or cut-off holder from a dead one, so the holder must give up
 * before the server can hand its slots to someone else. The lease is "provable" until
 * `send time of the last answered keepalive + TTL - margin`, on the monotonic clock (a wall-clock
 * jump cannot extend it): the server's own countdown started no earlier than that send. When the
 * deadline passes without a newer answer, the session says `lost` (the budget then stops this
 * participant's agents) and keeps trying for a fresh lease, which starts a new generation.
 */
export class LeaseSession {
  private readonly changed = new Emitter<LeaseState>();
  readonly onDidChange = this.changed.event;
  private current: LeaseState = { kind: 'lost', reason: 'not connected to etcd yet' };
  /** Monotonic ms until which the lease is provable. */
  private provableUntil = Number.NEGATIVE_INFINITY;
  private generation = 0;
  private keepaliveTimer: TimerHandle | undefined;
  private fenceTimer: TimerHandle | undefined;
  private regrantTimer: TimerHandle | undefined;
  private disposed = false;
  readonly ttlMs: number;
  readonly marginMs: number;

  constructor(
    private readonly gateway: EtcdGateway,
    private readonly options: { ttlSeconds: number; log: CoreLogger; clock?: Clock },
  ) {
    this.ttlMs = options.ttlSeconds * 1000;
    // Room to kill agents (SIGKILL of their groups) and for one keepalive interval of clock skew between sampling and acting.
    this.marginMs = Math.max(500, Math.round(this.ttlMs / 4));
  }

  private get clock(): Clock {
    return this.options.clock ?? systemClock;
  }

  get state(): LeaseState {
    return this.current;
  }

  /** The lease id while it can be proven, else undefined. */
  provableLease(): string | undefined {
    return this.current.kind === 'held' && this.clock.monotonicNow() < this.provableUntil ? this.current.leaseId : undefined;
  }

  /** Milliseconds of proof left (0 when lost). */
  proofLeftMs(): number {
    return this.current.kind === 'held' ? Math.max(0, this.provableUntil - this.clock.monotonicNow()) : 0;
  }

  /** Grants the first lease; rejects when etcd cannot be reached (the caller fails safe and retries later). */
  async start(): Promise<void> {
    await this.grant();
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const timer of [this.keepaliveTimer, this.fenceTimer, this.regrantTimer]) if (timer) this.clock.clearTimeout(timer);
    const lease = this.current.kind === 'held' ? this.current.leaseId : undefined;
    this.current = { kind: 'lost', reason: 'closed' };
    this.changed.dispose();
    // Revoking frees our slots and record at once instead of one TTL later.
    if (lease) await this.gateway.call('/v3/lease/revoke', { ID: lease }, 1000).catch(() => undefined);
  }

  private async grant(): Promise<void> {
    const sentAt = this.clock.monotonicNow();
    const answer = await this.gateway.call<{ ID?: string; TTL?: string }>('/v3/lease/grant', { TTL: String(this.options.ttlSeconds) });
    if (this.disposed) return;
    if (!answer.ID) throw new EtcdError(`etcd at ${this.gateway.endpoint} granted no lease`, 'rejected');
    const granted = Number(answer.TTL ?? this.options.ttlSeconds) * 1000;
    this.provableUntil = sentAt + Math.min(granted, this.ttlMs) - this.marginMs;
    this.generation++;
    this.current = { kind: 'held', leaseId: answer.ID, generation: this.generation };
    this.armFence();
    this.scheduleKeepalive();
    this.changed.fire(this.current);
  }

  private scheduleKeepalive(): void {
    if (this.disposed) return;
    // TTL/3, as etcd's own clients do: two keepalives may be lost before the margin is reached.
    this.keepaliveTimer = this.clock.setTimeout(() => void this.keepalive(), Math.max(100, Math.floor(this.ttlMs / 3)));
    this.keepaliveTimer.unref?.();
  }

  private async keepalive(): Promise<void> {
    if (this.disposed || this.current.kind !== 'held') return;
    const { leaseId } = this.current;
    const sentAt = this.clock.monotonicNow();
    try {
      const answer = await this.gateway.call<{ result?: { TTL?: string } }>('/v3/lease/keepalive', { ID: leaseId }, Math.max(200, Math.floor(this.ttlMs / 3)));
      if (this.disposed || this.current.kind !== 'held' || this.current.leaseId !== leaseId) return;
      const ttl = Number(answer.result?.TTL ?? 0);
      if (ttl <= 0) return this.lose(`etcd says lease ${leaseId} has expired`);
      this.provableUntil = Math.max(this.provableUntil, sentAt + Math.min(ttl * 1000, this.ttlMs) - this.marginMs);
      this.armFence();
    } catch (error) {
      // No answer: the deadline from the last answered send stands; the fence timer decides.
      this.options.log.warn(`keepalive of the etcd lease unanswered: ${errorMessage(error)}`);
    }
    this.scheduleKeepalive();
  }

  private armFence(): void {
    if (this.fenceTimer) this.clock.clearTimeout(this.fenceTimer);
    const left = this.provableUntil - this.clock.monotonicNow();
    this.fenceTimer = this.clock.setTimeout(() => {
      if (this.clock.monotonicNow() < this.provableUntil) return this.armFence();
      this.lose(`no answer from etcd (${this.gateway.endpoints.join(', ')}) to keep the lease alive within ${this.ttlMs - this.marginMs} ms`);
    }, Math.max(0, left));
    this.fenceTimer.unref?.();
  }

  private lose(reason: string): void {
    if (this.disposed || this.current.kind === 'lost') return;
    if (this.keepaliveTimer) this.clock.clearTimeout(this.keepaliveTimer);
    if (this.fenceTimer) this.clock.clearTimeout(this.fenceTimer);
    this.current = { kind: 'lost', reason };
    this.options.log.error(`the etcd lease is lost: ${reason}`);
    this.changed.fire(this.current);
    this.regrantSoon();
  }

  /** After a loss: a fresh lease as soon as etcd answers (the old one's keys are gone or about to be). */
  private regrantSoon(): void {
    if (this.disposed) return;
    this.regrantTimer = this.clock.setTimeout(() => {
      this.grant().then(
        () => this.options.log.info(`etcd answers again: new lease (generation ${this.generation})`),
        () => this.regrantSoon(),
      );
    }, Math.max(200, Math.floor(this.ttlMs / 4)));
    this.regrantTimer.unref?.();
  }

  /** For the first start failing: retry in the background like after a loss. */
  retryInBackground(reason: string): void {
    this.current = { kind: 'lost', reason };
    this.regrantSoon();
  }
}
