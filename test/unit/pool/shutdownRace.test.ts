import assert from 'node:assert/strict';
import { AcpAgent } from '../../../src/core/agents/acp/acpAgent';
import type { AgentBudget } from '../../../src/core/budget/budget';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { spawnAgentProcess } from '../../../src/core/process/spawn';
import { closeAll, demoPool, isAlive, nextEvent } from './helpers';
import { ManualClock } from './manualClock';

/** A promise the test settles by hand: a step of the code under test held at a chosen point. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets every queued callback and promise continuation run: what close() can do without the held step. */
function drainQueues(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function tracked(promise: Promise<unknown>): { settled: boolean } {
  const state = { settled: false };
  void promise.finally(() => (state.settled = true)).catch(() => undefined);
  return state;
}

describe('AgentPool close() racing a spawn (real demo agents)', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('waits for a process still being spawned when the agent is retired, and kills it', async () => {
    const spawned = gate<number>();
    const handOver = gate();
    const pool = demoPool({
      minAgents: 1,
      maxAgents: 1,
      // The real demo agent, held between the fork and the hand-over to the adapter: the moment a
      // kill() used to find no child and return while the process was coming up.
      createConnection: (profile, options) =>
        new AcpAgent(profile, options, {
          spawnProcess: async (spawnOptions) => {
            const child = await spawnAgentProcess(spawnOptions);
            spawned.open(child.pid);
            await handOver.promise;
            return child;
          },
        }),
    });
    const started = pool.start().catch(() => undefined);
    const pid = await spawned.promise;
    const retired = nextEvent(pool, 'agent-state', (event) => event.to === 'draining');
    const closing = pool.close();
    const close = tracked(closing);
    await retired;
    await drainQueues();
    assert.equal(close.settled, false, 'close() returned while a spawn it had retired was still in flight');
    handOver.open();
    await closing;
    assert.equal(isAlive(pid), false, `demo agent ${pid} survived close()`);
    assert.equal(pool.agents.size, 0);
    await started;
  });

  it('waits for a spawn still taking its budget slot, and gives the slot back before returning', async () => {
    const inner = new InProcessBudget(4);
    const slotTaken = gate();
    const acquireHeld = gate();
    const budget: AgentBudget = {
      acquire: (options) => inner.acquire(options),
      tryAcquire: async (options) => {
        slotTaken.open();
        await acquireHeld.promise;
        return inner.tryAcquire(options);
      },
      snapshot: () => inner.snapshot(),
      onDidChange: inner.onDidChange,
      dispose: () => inner.dispose(),
    };
    const pool = demoPool({ minAgents: 1, maxAgents: 1, budget });
    const started = pool.start().catch(() => undefined);
    await slotTaken.promise;
    const closing = pool.close();
    const close = tracked(closing);
    await drainQueues();
    assert.equal(close.settled, false, 'close() returned while a spawn was still taking its budget slot');
    acquireHeld.open();
    await closing;
    assert.equal(inner.snapshot().usedHere, 0, 'a budget slot was still held after close()');
    assert.equal(pool.agents.size, 0);
    await started;
  });

  it('ends as soon as the last turn ends instead of waiting out shutdownGraceMs', async () => {
    // The grace never elapses on a manual clock: close() can only return because the turn ended.
    const clock = new ManualClock();
    const pool = demoPool({ minAgents: 1, maxAgents: 1, shutdownGraceMs: 600_000, clock });
    await pool.start();
    const lease = await pool.acquire();
    const turn = lease.prompt('/demo latency=300 chunks=3\nlast words');
    const closing = pool.close();
    const agentStopped = nextEvent(pool, 'agent-state', (event) => event.agentId === lease.agentId && event.to === 'stopped');
    try {
      assert.equal((await turn).text, 'last words');
      lease.release();
      await agentStopped;
      await closing;
    } finally {
      // On failure, lets the grace run out so the clean-up's close() can finish.
      clock.advance(600_000);
    }
    assert.equal(pool.agents.size, 0);
  });
});
