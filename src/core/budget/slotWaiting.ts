import type { Clock, TimerHandle } from '../common/clock';
import { BudgetError, type BudgetSlot } from './budget';

export interface WaitForSlotOptions {
  label: string;
  timeoutMs: number;
  signal?: AbortSignal;
  clock: Clock;
  /** Retry this often even when no change is seen (network file systems may send no events). */
  pollIntervalMs: number;
  /** One try; undefined when nothing is free. Never called again while a try is running. */
  tryTake: () => Promise<BudgetSlot | undefined>;
  /** Registers the function to call when a slot may have freed anywhere; returns the unregister. */
  onWake: (wake: () => void) => () => void;
  timeoutError: () => BudgetError;
  /** Called once, however the wait ends. */
  onSettled: () => void;
}

/**
 * Waits for a slot: tries now, then again on every wake (a change in the slots directory, a
 * release here, a sweep that freed something) and on a slow poll, until the timeout or the abort
 * signal. Wakes that arrive during a try queue one more try, so no release is missed.
 */
export function waitForSlot(options: WaitForSlotOptions): Promise<BudgetSlot> {
  const { clock, label } = options;
  return new Promise<BudgetSlot>((resolve, reject) => {
    let settled = false;
    let running = false;
    let again = false;
    let pollTimer: TimerHandle | undefined;
    let stopWaking = () => {};
    const finish = (error?: Error, slot?: BudgetSlot) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      if (pollTimer) clock.clearTimeout(pollTimer);
      stopWaking();
      options.signal?.removeEventListener('abort', onAbort);
      if (!running) options.onSettled();
      if (error) reject(error);
      else resolve(slot!);
    };
    const attempt = async () => {
      if (settled) return;
      if (running) {
        again = true;
        return;
      }
      running = true;
      try {
        do {
          again = false;
          const slot = await options.tryTake();
          if (slot) {
            // A slot won after the timeout or abort already settled must not leak.
            if (settled) void slot.release();
            else finish(undefined, slot);
            return;
          }
        } while (again && !settled);
      } catch (error) {
        finish(error as Error);
      } finally {
        running = false;
        // A try that was still running when the wait ended cleans up after itself.
        if (settled) options.onSettled();
      }
    };
    const poll = () => {
      pollTimer = clock.setTimeout(() => {
        void attempt();
        if (!settled) poll();
      }, options.pollIntervalMs);
      pollTimer.unref?.();
    };
    const onAbort = () => finish(new BudgetError('BUDGET_CANCELLED', `waiting for an agent slot for ${label} was cancelled`));
    // Not unref'd: a pending acquisition is work in progress and keeps a process (the CLI) alive.
    const timer = clock.setTimeout(() => finish(options.timeoutError()), Math.max(0, options.timeoutMs));
    if (options.signal?.aborted) return onAbort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    stopWaking = options.onWake(() => void attempt());
    poll();
    void attempt();
  });
}
