import assert from 'node:assert/strict';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { isUnderused, spawnsWanted, type PoolLoad } from '../../../src/core/pool/policies/autoscaler';
import { restartDelay } from '../../../src/core/pool/policies/backoff';
import { CircuitBreaker } from '../../../src/core/pool/policies/circuitBreaker';
import { resolvePoolOptions, type PoolOptions } from '../../../src/core/pool/options';
import { WaitQueue, type Waiter } from '../../../src/core/pool/waitQueue';
import { FakeAgent } from './fakeAgent';
import { demoProfile } from './helpers';
import { ManualClock } from './manualClock';

function baseOptions(extra: Record<string, unknown> = {}): PoolOptions {
  return { profile: demoProfile(), createConnection: (profile) => new FakeAgent(profile), budget: new InProcessBudget(2), cwd: '/tmp', ...extra } as PoolOptions;
}

describe('pool options', () => {
  it('rejects unknown keys and names them', () => {
    assert.throws(() => resolvePoolOptions(baseOptions({ maxAgent: 3 })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'POOL_INVALID_OPTION');
      assert.match(error.message, /unknown option "maxAgent"/);
      return true;
    });
  });

  it('names the option and the bad value', () => {
    assert.throws(() => resolvePoolOptions(baseOptions({ maxAgents: 0 })), /option "maxAgents" must be a whole number from 1 to 256, got 0/);
    assert.throws(() => resolvePoolOptions(baseOptions({ idleWatchdogMs: 'soon' })), /"idleWatchdogMs".*got "soon"/);
    assert.throws(() => resolvePoolOptions(baseOptions({ minAgents: 5, maxAgents: 2 })), /"minAgents" \(5\) must not exceed "maxAgents" \(2\)/);
    assert.throws(() => resolvePoolOptions(baseOptions({ strategy: 'fastest' })), /"strategy" must be one of round-robin, .*got "fastest"/);
    assert.throws(() => resolvePoolOptions(baseOptions({ cwd: 'relative/dir' })), /"cwd" must be an absolute path/);
  });

  it('fills defaults for what is not given', () => {
    const resolved = resolvePoolOptions(baseOptions());
    assert.equal(resolved.maxAgents, 4);
    assert.equal(resolved.strategy, 'least-busy');
  });
});

describe('wait queue', () => {
  it('orders by priority, then first come first served', () => {
    const queue = new WaitQueue();
    const make = (name: string, priority: number, sequence: number) =>
      ({ request: { task: name }, priority, sequence, enqueuedAt: 0, resolve() {}, reject() {} }) as Waiter;
    queue.add(make('low-1', 0, 1));
    queue.add(make('high', 5, 2));
    queue.add(make('low-2', 0, 3));
    queue.add(make('mid', 1, 4));
    assert.deepEqual([...queue].map((w) => w.request.task), ['high', 'mid', 'low-1', 'low-2']);
  });
});

describe('restart backoff', () => {
  it('doubles per attempt, caps at the maximum, and jitters within the upper half', () => {
    assert.equal(restartDelay(1, 100, 1000, () => 0), 50);
    assert.equal(restartDelay(1, 100, 1000, () => 1), 100);
    assert.equal(restartDelay(3, 100, 1000, () => 1), 400);
    assert.equal(restartDelay(10, 100, 1000, () => 1), 1000);
    assert.equal(restartDelay(10, 100, 1000, () => 0), 500);
  });
});

describe('autoscaling decisions', () => {
  const load = (extra: Partial<PoolLoad>): PoolLoad => ({ live: 2, starting: 0, idle: 0, busy: 2, queued: 0, minAgents: 1, maxAgents: 4, ...extra });

  it('tops up to minAgents even without autoscaling', () => {
    assert.equal(spawnsWanted(load({ live: 0, busy: 0, minAgents: 2 }), false).count, 2);
  });

  it('grows for queued work no starting or idle agent will take, never past maxAgents', () => {
    assert.deepEqual(spawnsWanted(load({ queued: 1 }), true), { count: 1, reason: '1 request(s) queued' });
    assert.equal(spawnsWanted(load({ queued: 5 }), true).count, 2);
    assert.equal(spawnsWanted(load({ queued: 1, starting: 1, live: 3 }), true).count, 0);
    assert.equal(spawnsWanted(load({ queued: 3 }), false).count, 0);
  });

  it('grows one ahead above 80% utilization', () => {
    assert.match(spawnsWanted(load({ live: 5, busy: 5, maxAgents: 8 }), true).reason, /utilization 100% > 80%/);
    assert.equal(spawnsWanted(load({ live: 5, busy: 4, idle: 1, maxAgents: 8 }), true).count, 0);
  });

  it('calls the pool underused below 20% only above minAgents and with nothing queued', () => {
    assert.equal(isUnderused(load({ live: 3, busy: 0, idle: 3 })), true);
    assert.equal(isUnderused(load({ live: 1, busy: 0, idle: 1 })), false);
    assert.equal(isUnderused(load({ live: 3, busy: 1, idle: 2 })), false);
    assert.equal(isUnderused(load({ live: 3, busy: 0, idle: 3, queued: 1 })), false);
  });
});

describe('circuit breaker', () => {
  function breaker(clock: ManualClock) {
    const changes: string[] = [];
    const instance = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 1000, clock }, (state, reason) => changes.push(`${state}${reason ? `: ${reason}` : ''}`));
    return { instance, changes };
  }

  it('opens after N consecutive failures; a success in between resets the count', () => {
    const clock = new ManualClock();
    const { instance, changes } = breaker(clock);
    instance.recordFailure('a');
    instance.recordFailure('b');
    instance.recordSuccess();
    instance.recordFailure('c');
    instance.recordFailure('d');
    assert.equal(instance.state, 'closed');
    instance.recordFailure('e');
    assert.equal(instance.state, 'open');
    assert.deepEqual(changes, ['open: 3 failures in a row, the last: e']);
    assert.equal(instance.tryPass({}), false);
  });

  it('opens at once on an immediate failure and half-opens after the cooldown for exactly one trial', () => {
    const clock = new ManualClock();
    const { instance, changes } = breaker(clock);
    instance.recordFailure('rate limited', true);
    assert.equal(instance.state, 'open');
    clock.advance(999);
    assert.equal(instance.state, 'open');
    clock.advance(1);
    assert.equal(instance.state, 'half-open');
    assert.equal(instance.tryPass({}), true);
    assert.equal(instance.tryPass({}), false, 'only one trial at a time');
    instance.recordFailure('still limited');
    assert.equal(instance.state, 'open', 'a failed trial reopens');
    clock.advance(1000);
    assert.equal(instance.tryPass({}), true);
    instance.recordSuccess();
    assert.equal(instance.state, 'closed');
    assert.deepEqual(changes, ['open: rate limited', 'half-open: rate limited', 'open: 2 failures in a row, the last: still limited', 'half-open: 2 failures in a row, the last: still limited', 'closed']);
  });

  it('lets only the work holding the half-open trial give it back, and arms no cooldown once disposed', () => {
    const clock = new ManualClock();
    const { instance } = breaker(clock);
    instance.recordFailure('auth', true);
    clock.advance(1000);
    const firstTrial = {};
    assert.equal(instance.tryPass(firstTrial), true);
    instance.releaseTrial({});
    assert.equal(instance.isPassable(), false, 'a lease that never held the trial cannot free it');
    instance.releaseTrial(firstTrial);
    assert.equal(instance.isPassable(), true, 'the holder gives it back when it ends without a verdict');
    const secondTrial = {};
    assert.equal(instance.tryPass(secondTrial), true);
    instance.releaseTrial(firstTrial);
    assert.equal(instance.isPassable(), false, 'a stale holder does not free the next trial');

    instance.dispose();
    instance.recordFailure('failed during shutdown');
    assert.equal(instance.state, 'open');
    assert.equal(clock.pendingTimers, 0);
  });
});
