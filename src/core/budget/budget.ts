import type { Disposable, Event } from '../common/event';
import { AgentPoolError } from '../common/errors';
import type { ProcessIdentity } from '../process/identity';

/**
 * The global agent budget: every agent process in every window holds exactly one slot.
 * The pool and the UI see only this interface, so the backend (in-process, slot files on this
 * machine, or one spanning machines later) can change without touching them.
 */
export interface AgentBudget extends Disposable {
  /** Waits for a free slot until `timeoutMs` or `signal`; rejects with a BudgetError that says who holds the budget. */
  acquire(options: AcquireSlotOptions): Promise<BudgetSlot>;
  /** Takes a free slot now, or returns undefined without waiting. */
  tryAcquire(options: { label: string }): Promise<BudgetSlot | undefined>;
  /** The budget as last seen; cheap, never does I/O. */
  snapshot(): BudgetSnapshot;
  /** Re-reads the store now (slots and the cap live participants declare); backends that push changes need not. */
  refresh?(): Promise<void>;
  /** Fires when slots are taken or freed anywhere the backend can see. */
  readonly onDidChange: Event<BudgetSnapshot>;
}

export interface AcquireSlotOptions {
  /** What the slot is for, e.g. the agent profile name; shown to people reading the budget. */
  label: string;
  timeoutMs: number;
  signal?: AbortSignal;
}

export interface BudgetSlot {
  readonly id: string;
  /** Ties the slot to the spawned agent child, so the slot outlives a frozen owner but not a dead child. */
  bindProcess(child: ProcessIdentity): Promise<void>;
  /** Frees the slot; safe to call twice. */
  release(): Promise<void>;
  /**
   * Backends that can lose a slot while its holder lives (a lease on etcd) call `listener` when it is
   * lost, before anyone else can take it: the holder must stop its agent at once.
   */
  onRevoked?(listener: (reason: string) => void): Disposable;
}

export interface BudgetHolder {
  windowId: string;
  label: string;
  slotId: string;
  childPid?: number;
}

export interface BudgetSnapshot {
  /** The cap enforced: the smallest declared by a live participant of the store (see effectiveCap.ts). */
  cap: number;
  /** The cap this participant was configured with; larger than `cap` when another participant's is smaller. */
  configuredCap?: number;
  used: number;
  /** Slots this window's budget instance holds. */
  usedHere: number;
  holders: BudgetHolder[];
  /** Set while the backend cannot be used (read-only or full directory): nothing may spawn. */
  unavailableReason?: string;
}

export type BudgetErrorCode = 'BUDGET_EXHAUSTED' | 'BUDGET_UNAVAILABLE' | 'BUDGET_CANCELLED' | 'BUDGET_CLOSED';

export class BudgetError extends AgentPoolError {
  constructor(
    override readonly code: BudgetErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(code, message, options);
    this.name = 'BudgetError';
  }
}

/** "8 of 8 agent slots are held: window A (3: demo, demo, claude), window B (5 …)". */
export function describeHolders(snapshot: BudgetSnapshot): string {
  const byWindow = new Map<string, string[]>();
  for (const holder of snapshot.holders) {
    const labels = byWindow.get(holder.windowId) ?? [];
    labels.push(holder.label);
    byWindow.set(holder.windowId, labels);
  }
  const parts = [...byWindow].map(([windowId, labels]) => `${windowId} (${labels.length}: ${labels.join(', ')})`);
  return `${snapshot.used} of ${snapshot.cap} agent slots are held${parts.length ? `: ${parts.join('; ')}` : ''}`;
}
