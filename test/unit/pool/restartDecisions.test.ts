import assert from 'node:assert/strict';
import { afterCrash, restartTiming } from '../../../src/core/pool/policies/backoff';

describe('what the supervisor does after a crash (pure decisions)', () => {
  it('gives up when the pool closed or the circuit opened, whoever wanted the agent back', () => {
    for (const comingBack of ['after-crash', 'for-user', undefined] as const) {
      assert.equal(afterCrash({ poolClosed: true, circuit: 'closed', comingBack }), 'give-up');
      assert.equal(afterCrash({ poolClosed: false, circuit: 'open', comingBack }), 'give-up');
    }
  });

  it('forgets an agent the user stopped during the clean-up, leaves a user restart to itself, queues the rest', () => {
    assert.equal(afterCrash({ poolClosed: false, circuit: 'closed', comingBack: undefined }), 'forget');
    assert.equal(afterCrash({ poolClosed: false, circuit: 'closed', comingBack: 'for-user' }), 'user-restart');
    assert.equal(afterCrash({ poolClosed: false, circuit: 'closed', comingBack: 'after-crash' }), 'queue-restart');
    assert.equal(afterCrash({ poolClosed: false, circuit: 'half-open', comingBack: 'after-crash' }), 'queue-restart', 'the restart is the half-open trial');
  });

  it('restarts the first crash after a good turn at once and backs off crashes in a row, capped, never under half', () => {
    const limits = (rng: number) => ({ restartBaseDelayMs: 1_000, restartMaxDelayMs: 8_000, rng: () => rng });
    assert.deepEqual(restartTiming(0, limits(0.5)), { attempt: 1, delayMs: 0 }, 'no crash counted yet: attempt 1');
    assert.deepEqual(restartTiming(1, limits(0.5)), { attempt: 1, delayMs: 0 });
    assert.deepEqual(restartTiming(2, limits(0)), { attempt: 2, delayMs: 500 });
    assert.deepEqual(restartTiming(2, limits(1)), { attempt: 2, delayMs: 1_000 });
    assert.deepEqual(restartTiming(3, limits(1)), { attempt: 3, delayMs: 2_000 });
    assert.deepEqual(restartTiming(10, limits(1)), { attempt: 10, delayMs: 8_000 }, 'capped at restartMaxDelayMs');
    assert.deepEqual(restartTiming(10, limits(0)), { attempt: 10, delayMs: 4_000 });
  });
});
