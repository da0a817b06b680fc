import type { TimerHandle } from '../common/clock';
import type { Lease } from './lease';
import type { AcquireOptions } from './lease';

export interface Waiter {
  readonly request: AcquireOptions;
  readonly task?: string;
  readonly priority: number;
  readonly sequence: number;
  readonly enqueuedAt: number;
  timer?: TimerHandle;
  cleanup?: () => void;
  resolve(lease: Lease): void;
  reject(error: Error): void;
}

/**
 * Requests waiting for an agent, highest priority first and first-come within a priority.
 * Bounded by the pool's queueLimit, which the pool checks before `add`.
 */
export class WaitQueue implements Iterable<Waiter> {
  private readonly waiters: Waiter[] = [];

  get size(): number {
    return this.waiters.length;
  }

  add(waiter: Waiter): void {
    // Binary search for the first waiter that ranks strictly after the new one.
    let low = 0;
    let high = this.waiters.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const other = this.waiters[middle];
      if (other.priority > waiter.priority || (other.priority === waiter.priority && other.sequence < waiter.sequence)) low = middle + 1;
      else high = middle;
    }
    this.waiters.splice(low, 0, waiter);
  }

  has(waiter: Waiter): boolean {
    return this.waiters.includes(waiter);
  }

  remove(waiter: Waiter): boolean {
    const index = this.waiters.indexOf(waiter);
    if (index < 0) return false;
    this.waiters.splice(index, 1);
    return true;
  }

  drain(): Waiter[] {
    return this.waiters.splice(0);
  }

  [Symbol.iterator](): Iterator<Waiter> {
    return [...this.waiters][Symbol.iterator]();
  }
}
