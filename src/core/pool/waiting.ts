import type { Clock } from '../common/clock';
import type { Event } from '../common/event';

/** Resolves once `done()` holds, re-checked on each event, or after `timeoutMs` regardless. */
export function waitUntil<T>(event: Event<T>, done: () => boolean, timeoutMs: number, clock: Clock): Promise<void> {
  if (done()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = clock.setTimeout(finish, timeoutMs);
    const subscription = event(() => {
      if (done()) finish();
    });
    function finish() {
      clock.clearTimeout(timer);
      subscription.dispose();
      resolve();
    }
  });
}
