import { Emitter } from '../common/event';
import {
  AcquireSlotOptions,
  AgentBudget,
  BudgetError,
  BudgetHolder,
  BudgetSlot,
  BudgetSnapshot,
  describeHolders,
} from './budget';
import type { ProcessIdentity } from '../process/identity';

/**
 * A budget shared only by the pools of one process: the CLI's and tests' fallback, and the
 * reference behaviour the slot-file budget must match.
 */
export class InProcessBudget implements AgentBudget {
  private readonly holders = new Map<string, BudgetHolder>();
  private readonly waiters = new Set<() => void>();
  private readonly changed = new Emitter<BudgetSnapshot>();
  private nextSlot = 0;
  private closed = false;

  readonly onDidChange = this.changed.event;

  constructor(
    readonly cap: number,
    private readonly windowId = `pid-${process.pid}`,
  ) {
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`budget cap must be a whole number of at least 1, got ${cap}`);
    }
  }

  async tryAcquire({ label }: { label: string }): Promise<BudgetSlot | undefined> {
    if (this.closed) throw new BudgetError('BUDGET_CLOSED', 'the agent budget is closed');
    if (this.holders.size >= this.cap) return undefined;
    const slotId = `slot-${this.nextSlot++}`;
    this.holders.set(slotId, { windowId: this.windowId, label, slotId });
    this.fireChanged();
    return this.makeSlot(slotId);
  }

  acquire({ label, timeoutMs, signal }: AcquireSlotOptions): Promise<BudgetSlot> {
    return new Promise<BudgetSlot>((resolve, reject) => {
      let settled = false;
      const finish = (error?: Error, slot?: BudgetSlot) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.waiters.delete(retry);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve(slot!);
      };
      const retry = () => {
        this.tryAcquire({ label }).then(
          (slot) => {
            if (!slot) return;
            // A slot won after the timeout or abort already settled must not leak.
            if (settled) void slot.release();
            else finish(undefined, slot);
          },
          (error) => finish(error),
        );
      };
      const onAbort = () => finish(new BudgetError('BUDGET_CANCELLED', `waiting for an agent slot for ${label} was cancelled`));
      const timer = setTimeout(
        () =>
          finish(
            new BudgetError(
              'BUDGET_EXHAUSTED',
              `No agent slot freed within ${timeoutMs} ms for ${label}: ${describeHolders(this.snapshot())}. ` +
                'Stop an agent, or raise agentPool.maxAgentsTotal.',
            ),
          ),
        timeoutMs,
      );
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.add(retry);
      retry();
    });
  }

  snapshot(): BudgetSnapshot {
    const holders = [...this.holders.values()];
    return { cap: this.cap, used: holders.length, usedHere: holders.length, holders };
  }

  dispose(): void {
    this.closed = true;
    this.holders.clear();
    this.waiters.clear();
    this.changed.dispose();
  }

  private makeSlot(slotId: string): BudgetSlot {
    let released = false;
    return {
      id: slotId,
      bindProcess: async (child: ProcessIdentity) => {
        const holder = this.holders.get(slotId);
        if (holder && !released) holder.childPid = child.pid;
      },
      release: async () => {
        if (released) return;
        released = true;
        this.holders.delete(slotId);
        this.fireChanged();
        for (const wake of [...this.waiters]) wake();
      },
    };
  }

  private fireChanged(): void {
    this.changed.fire(this.snapshot());
  }
}
