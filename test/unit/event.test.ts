import assert from 'node:assert/strict';
import { Emitter, waitForEvent } from '../../src/core/common/event';
import { InProcessBudget } from '../fixtures/inProcessBudget';

describe('Emitter', () => {
  it('keeps delivering to other listeners when one throws', () => {
    const errors: unknown[] = [];
    const emitter = new Emitter<number>((error) => errors.push(error));
    const seen: number[] = [];
    emitter.event(() => {
      throw new Error('boom');
    });
    emitter.event((value) => seen.push(value));
    emitter.fire(7);
    assert.deepEqual(seen, [7]);
    assert.equal(errors.length, 1);
  });

  it('delivers only to listeners present when fire() began, with one listener or many', () => {
    for (const initial of [1, 2]) {
      const emitter = new Emitter<number>();
      const late: number[] = [];
      const early: number[] = [];
      for (let i = 0; i < initial; i++) {
        emitter.event((value) => {
          early.push(value);
          emitter.event((v) => late.push(v));
        });
      }
      emitter.fire(1);
      assert.deepEqual(early, new Array(initial).fill(1));
      assert.deepEqual(late, [], `a listener added during fire() was called (${initial} initial)`);
    }
  });

  it('stops delivering after a listener is disposed', () => {
    const emitter = new Emitter<number>();
    const seen: number[] = [];
    const subscription = emitter.event((value) => seen.push(value));
    emitter.fire(1);
    subscription.dispose();
    emitter.fire(2);
    assert.deepEqual(seen, [1]);
    assert.equal(emitter.listenerCount, 0);
  });
});

describe('InProcessBudget', () => {
  it('never grants more slots than the cap and wakes a waiter when one is freed', async () => {
    const budget = new InProcessBudget(2);
    const a = await budget.acquire({ label: 'demo', timeoutMs: 1000 });
    await budget.acquire({ label: 'demo', timeoutMs: 1000 });
    assert.equal(await budget.tryAcquire({ label: 'demo' }), undefined);
    const waiting = budget.acquire({ label: 'demo', timeoutMs: 5000 });
    const freed = waitForEvent(budget.onDidChange, (s) => s.used === 2);
    await a.release();
    await freed;
    const c = await waiting;
    assert.ok(c.id);
    assert.equal(budget.snapshot().used, 2);
  });

  it('says who holds the budget when the wait times out', async () => {
    const budget = new InProcessBudget(1, 'window-A');
    await budget.acquire({ label: 'claude', timeoutMs: 1000 });
    await assert.rejects(budget.acquire({ label: 'demo', timeoutMs: 20 }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'BUDGET_EXHAUSTED');
      assert.match(error.message, /window-A \(1: claude\)/);
      assert.match(error.message, /agentPool\.maxAgentsTotal/);
      return true;
    });
  });
});
