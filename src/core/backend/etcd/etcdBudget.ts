import { randomInt } from 'node:crypto';
import * as os from 'node:os';
import { BudgetError, type AcquireSlotOptions, type AgentBudget, type BudgetHolder, type BudgetSlot, type BudgetSnapshot } from '../../budget/budget';
import { effectiveCap } from '../../budget/effectiveCap';
import { waitForSlot } from '../../budget/slotWaiting';
import { systemClock } from '../../common/clock';
import { errorMessage } from '../../common/errors';
import { Emitter, type Disposable } from '../../common/event';
import type { CoreLogger } from '../../common/logger';
import type { ProcessIdentity } from '../../process/identity';
import { b64, text, type EtcdGateway, type Header, type KeyValue, type Watching } from './gateway';
import type { EtcdKeys } from './keys';
import { prefixRange } from './keys';
import type { LeaseSession } from './leaseSession';

export interface EtcdBudgetOptions {
  gateway: EtcdGateway;
  session: LeaseSession;
  keys: EtcdKeys;
  maxAgentsTotal: number;
  maxAgentsPerWindow?: number;
  windowId: string;
  hostname?: string;
  log: CoreLogger;
  /** How often a waiting acquisition retries without a watch event. Default 1000. */
  waitPollIntervalMs?: number;
}

/** What a slot's value says: who holds it. */
interface SlotHolder {
  windowId: string;
  hostname: string;
  label: string;
  ownerPid: number;
  childPid?: number;
}

interface HeldSlot {
  index: number;
  /** The slot key's create_revision: the only revision that may rewrite or delete it. */
  revision: string;
  leaseId: string;
  holder: SlotHolder;
  revoked: Set<(reason: string) => void>;
}

type TxnAnswer = { header?: Header; succeeded?: boolean; responses?: Array<{ response_range?: { kvs?: KeyValue[] } }> };

/**
 * The global budget on etcd, spanning machines. Each slot `<prefix>/budget/slots/<k>` is bound to
 * its holder's lease and taken in one transaction that also proves nothing changed since the count
 * was read: "no slot and no participant record was written after revision R, and slot k does not
 * exist" then put slot k. So the count below the store's cap (the smallest cap a live participant
 * declares in its record) and the take are one step, across every machine, with no lock. A slot is
 * rewritten or deleted only by a transaction comparing its create_revision, the holder's own.
 *
 * When the lease can no longer be proven (see LeaseSession) every held slot is revoked: the pools
 * stop their agents at once, the budget grants nothing, and the snapshot says why, naming etcd.
 */
export class EtcdBudget implements AgentBudget {
  private readonly changed = new Emitter<BudgetSnapshot>();
  readonly onDidChange = this.changed.event;
  private readonly held = new Map<string, HeldSlot>();
  private readonly waiters = new Set<() => void>();
  private entries = new Map<number, SlotHolder>();
  private effective: number;
  private inFlight = 0;
  private watching: Watching | undefined;
  private closed = false;
  private lastSignature = '';
  private readonly subscriptions: Disposable[] = [];
  private readonly hostname: string;

  static async open(options: EtcdBudgetOptions): Promise<EtcdBudget> {
    const budget = new EtcdBudget(options);
    await budget.relist().catch((error) => options.log.warn(`listing the etcd budget: ${errorMessage(error)}`));
    return budget;
  }

  private constructor(private readonly options: EtcdBudgetOptions) {
    this.effective = options.maxAgentsTotal;
    this.hostname = options.hostname ?? os.hostname();
    this.subscriptions.push(
      options.session.onDidChange((state) => {
        if (state.kind === 'lost') this.revokeAll(state.reason);
        else void this.relist().catch(() => undefined);
        this.fireIfChanged(true);
        this.wakeWaiters();
      }),
    );
  }

  get cap(): number {
    return this.effective;
  }

  snapshot(): BudgetSnapshot {
    const holders: BudgetHolder[] = [...this.entries].map(([index, holder]) => ({
      windowId: holder.windowId,
      label: `${holder.label} on ${holder.hostname}`,
      slotId: `slot-${index}`,
      ...(holder.childPid !== undefined && holder.hostname === this.hostname ? { childPid: holder.childPid } : {}),
    }));
    const snapshot: BudgetSnapshot = { cap: this.effective, configuredCap: this.options.maxAgentsTotal, used: holders.length, usedHere: this.held.size, holders };
    const reason = this.unavailableReason();
    if (reason) snapshot.unavailableReason = reason;
    return snapshot;
  }

  async tryAcquire({ label }: { label: string }): Promise<BudgetSlot | undefined> {
    return this.takeSlot(label);
  }

  acquire({ label, timeoutMs, signal }: AcquireSlotOptions): Promise<BudgetSlot> {
    return waitForSlot({
      label,
      timeoutMs,
      signal,
      clock: systemClock,
      pollIntervalMs: this.options.waitPollIntervalMs ?? 1000,
      tryTake: () => this.takeSlot(label),
      onWake: (wake) => {
        this.waiters.add(wake);
        return () => this.waiters.delete(wake);
      },
      timeoutError: () => {
        const snapshot = this.snapshot();
        return new BudgetError(
          'BUDGET_EXHAUSTED',
          `No agent slot freed within ${timeoutMs} ms for ${label}: ${snapshot.used} of ${snapshot.cap} agent slots are held across the machines sharing etcd ` +
            `(${this.options.gateway.endpoints.join(', ')}). Stop an agent somewhere, or raise agentPool.maxAgentsTotal in the participant with the smallest one.`,
        );
      },
      onSettled: () => undefined,
    });
  }

  refresh(): Promise<void> {
    return this.relist().catch((error) => this.options.log.warn(`listing the etcd budget: ${errorMessage(error)}`));
  }

  dispose(): void {
    if (this.closed) return;
    this.closed = true;
    this.watching?.cancel();
    for (const subscription of this.subscriptions) subscription.dispose();
    for (const wake of [...this.waiters]) wake();
    for (const held of this.held.values()) void this.deleteSlot(held).catch(() => undefined);
    this.held.clear();
    this.changed.dispose();
  }

  private unavailableReason(): string | undefined {
    const state = this.options.session.state;
    if (state.kind === 'held' && this.options.session.provableLease()) return undefined;
    const why = state.kind === 'lost' ? state.reason : 'the lease could not be renewed in time';
    return `The Agent Pool budget on etcd (${this.options.gateway.endpoints.join(', ')}) cannot be used: ${why}. No agent starts until etcd answers again.`;
  }

  private async takeSlot(label: string): Promise<BudgetSlot | undefined> {
    if (this.closed) throw new BudgetError('BUDGET_CLOSED', 'the agent budget is closed');
    const perWindow = this.options.maxAgentsPerWindow ?? this.options.maxAgentsTotal;
    if (this.held.size + this.inFlight >= perWindow) return undefined;
    this.inFlight++;
    try {
      for (let attempt = 0; attempt < 8; attempt++) {
        const leaseId = this.options.session.provableLease();
        const generation = this.options.session.state.kind === 'held' ? this.options.session.state.generation : -1;
        if (!leaseId) throw new BudgetError('BUDGET_UNAVAILABLE', this.unavailableReason() ?? 'etcd is unavailable');
        const { revision, slots, caps } = await this.readStore();
        this.applyListing(slots, caps);
        if (slots.size >= this.effective) return undefined;
        const free: number[] = [];
        for (let index = 0; index < this.effective; index++) if (!slots.has(index)) free.push(index);
        const index = free[randomInt(free.length)]!;
        const holder: SlotHolder = { windowId: this.options.windowId, hostname: this.hostname, label, ownerPid: process.pid };
        const key = this.options.keys.slot(index);
        const answer = await this.options.gateway.call<TxnAnswer>('/v3/kv/txn', {
          compare: [
            { ...prefixRange(this.options.keys.slots), target: 'MOD', result: 'LESS', mod_revision: String(BigInt(revision) + 1n) },
            { ...prefixRange(this.options.keys.windows), target: 'MOD', result: 'LESS', mod_revision: String(BigInt(revision) + 1n) },
            { key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: '0' },
          ],
          success: [{ request_put: { key: b64(key), value: b64(JSON.stringify(holder)), lease: leaseId } }],
        });
        if (!answer.succeeded) continue;
        const created = answer.header?.revision ?? '0';
        // The lease was lost while the transaction flew: the slot dies with the lease; give it back now.
        const state = this.options.session.state;
        if (this.closed || state.kind !== 'held' || state.generation !== generation) {
          await this.deleteSlot({ index, revision: created, leaseId, holder, revoked: new Set() }).catch(() => undefined);
          if (this.closed) throw new BudgetError('BUDGET_CLOSED', 'the agent budget was closed while a slot was being taken');
          throw new BudgetError('BUDGET_UNAVAILABLE', this.unavailableReason() ?? 'etcd was lost while the slot was taken');
        }
        this.entries.set(index, holder);
        return this.holdSlot({ index, revision: created, leaseId, holder, revoked: new Set() });
      }
      return undefined;
    } catch (error) {
      if (error instanceof BudgetError) throw error;
      throw new BudgetError('BUDGET_UNAVAILABLE', `The Agent Pool budget on etcd could not be used: ${errorMessage(error)}. No agent starts until etcd answers again.`, { cause: error });
    } finally {
      this.inFlight--;
      this.fireIfChanged();
    }
  }

  private holdSlot(held: HeldSlot): BudgetSlot {
    const id = `slot-${held.index}`;
    this.held.set(id, held);
    let released = false;
    return {
      id,
      bindProcess: async (child: ProcessIdentity) => {
        if (released) throw new BudgetError('BUDGET_CLOSED', `${id} was already released; acquire a new slot for this agent`);
        const holder = { ...held.holder, childPid: child.pid };
        const key = this.options.keys.slot(held.index);
        const answer = await this.options.gateway.call<TxnAnswer>('/v3/kv/txn', {
          compare: [{ key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: held.revision }],
          success: [{ request_put: { key: b64(key), value: b64(JSON.stringify(holder)), lease: held.leaseId } }],
        });
        if (!answer.succeeded) throw new BudgetError('BUDGET_UNAVAILABLE', `${id} on etcd is no longer this window's (its lease ran out); the agent must stop`);
        held.holder = holder;
      },
      release: async () => {
        if (released) return;
        released = true;
        if (this.held.get(id) === held) this.held.delete(id);
        await this.deleteSlot(held).catch((error) => this.options.log.warn(`could not free ${id} on etcd (its lease frees it): ${errorMessage(error)}`));
        this.entries.delete(held.index);
        this.wakeWaiters();
        this.fireIfChanged();
      },
      onRevoked: (listener: (reason: string) => void) => {
        held.revoked.add(listener);
        return { dispose: () => held.revoked.delete(listener) };
      },
    };
  }

  private async deleteSlot(held: HeldSlot): Promise<void> {
    const key = this.options.keys.slot(held.index);
    await this.options.gateway.call('/v3/kv/txn', {
      compare: [{ key: b64(key), target: 'CREATE', result: 'EQUAL', create_revision: held.revision }],
      success: [{ request_delete_range: { key: b64(key) } }],
    });
  }

  private revokeAll(reason: string): void {
    const message = `this window can no longer prove its etcd lease (${reason}); its agent stops before the lease can run out and its slot be given to another machine`;
    for (const held of this.held.values()) for (const listener of held.revoked) listener(message);
    this.held.clear();
  }

  /** Every slot and every declared cap at one revision (a read-only transaction). */
  private async readStore(): Promise<{ revision: string; slots: Map<number, SlotHolder>; caps: number[] }> {
    const answer = await this.options.gateway.call<TxnAnswer>('/v3/kv/txn', {
      compare: [],
      success: [{ request_range: prefixRange(this.options.keys.slots) }, { request_range: prefixRange(this.options.keys.windows) }],
    });
    const slots = new Map<number, SlotHolder>();
    for (const kv of answer.responses?.[0]?.response_range?.kvs ?? []) {
      const index = Number(text(kv.key).slice(this.options.keys.slots.length));
      if (!Number.isInteger(index)) continue;
      slots.set(index, parseHolder(text(kv.value)));
    }
    const caps: number[] = [];
    for (const kv of answer.responses?.[1]?.response_range?.kvs ?? []) {
      try {
        const cap = (JSON.parse(text(kv.value)) as { maxAgentsTotal?: unknown }).maxAgentsTotal;
        if (typeof cap === 'number') caps.push(cap);
      } catch {
        // Not a record of ours: declares nothing.
      }
    }
    return { revision: answer.header?.revision ?? '0', slots, caps };
  }

  private applyListing(slots: Map<number, SlotHolder>, caps: number[]): void {
    this.entries = slots;
    this.effective = effectiveCap(this.options.maxAgentsTotal, caps);
  }

  /** Re-lists, then watches from the listing's revision + 1 (a reconnect never misses a change). */
  private async relist(): Promise<void> {
    if (this.closed) return;
    const { revision, slots, caps } = await this.readStore();
    this.applyListing(slots, caps);
    this.fireIfChanged();
    this.watching?.cancel();
    const start = String(BigInt(revision) + 1n);
    this.watching = this.options.gateway.watch(
      { create_request: { ...prefixRange(this.options.keys.root), start_revision: start } },
      (result) => {
        const { slots: slotPrefix, windows } = this.options.keys;
        const relevant = result.events?.some((event) => {
          const key = text(event.kv.key);
          return key.startsWith(slotPrefix) || key.startsWith(windows);
        });
        if (!relevant) return;
        // Slots and records both move the budget: re-read both at one revision (cheap, and never half a view).
        void this.readStore().then(({ slots: now, caps: declared }) => {
          this.applyListing(now, declared);
          this.fireIfChanged();
          this.wakeWaiters();
        }, () => undefined);
      },
      () => {
        if (this.closed) return;
        setTimeout(() => void this.relist().catch(() => undefined), 250).unref();
      },
    );
  }

  private wakeWaiters(): void {
    for (const wake of [...this.waiters]) wake();
  }

  private fireIfChanged(force = false): void {
    if (this.closed) return;
    const snapshot = this.snapshot();
    const signature = JSON.stringify([snapshot.cap, snapshot.used, snapshot.usedHere, snapshot.unavailableReason ?? '', snapshot.holders.map((h) => h.slotId + h.windowId + (h.childPid ?? ''))]);
    if (!force && signature === this.lastSignature) return;
    this.lastSignature = signature;
    this.changed.fire(snapshot);
  }
}

function parseHolder(value: string): SlotHolder {
  try {
    const parsed = JSON.parse(value) as SlotHolder;
    if (typeof parsed.windowId === 'string') return parsed;
  } catch {
    // Written by something else: still a held slot.
  }
  return { windowId: 'unknown (not an Agent Pool slot value)', hostname: '?', label: '?', ownerPid: 0 };
}
