import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { BudgetError, type BudgetSnapshot } from '../../../src/core/budget/budget';
import { SlotFileBudget, type SlotFileBudgetOptions } from '../../../src/core/budget/slotFileBudget';
import type { SlotLease } from '../../../src/core/budget/slotLease';
import { waitForEvent } from '../../../src/core/common/event';
import { currentProcessIdentity } from '../../../src/core/process/identity';
import { Actor, CollectingLogger, FakeClock, makeTempDir } from '../registry/helpers';

describe('SlotFileBudget', () => {
  let temp: ReturnType<typeof makeTempDir>;
  let dir: string;
  const opened: SlotFileBudget[] = [];
  const open = async (options: Partial<SlotFileBudgetOptions> = {}) => {
    const budget = await SlotFileBudget.open({ directory: dir, maxAgentsTotal: 2, windowId: 'window-a', log: new CollectingLogger(), ...options });
    opened.push(budget);
    return budget;
  };
  const slotFiles = () => readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('slot-')).sort();

  beforeEach(() => {
    temp = makeTempDir('agent-pool-budget-');
    dir = path.join(temp.dir, 'registry');
  });
  afterEach(() => {
    for (const budget of opened.splice(0)) budget.dispose();
    temp.remove();
  });

  it('grants at most the cap, one slot file per holder, across budget instances', async () => {
    const a = await open({ windowId: 'window-a' });
    const b = await open({ windowId: 'window-b' });
    const first = await a.tryAcquire({ label: 'demo' });
    const second = await b.tryAcquire({ label: 'claude' });
    assert.ok(first && second);
    assert.equal(await a.tryAcquire({ label: 'demo' }), undefined);
    assert.equal(await b.tryAcquire({ label: 'demo' }), undefined);
    assert.deepEqual(slotFiles(), ['slot-0', 'slot-1']);
    await a.refresh();
    const snapshot = a.snapshot();
    assert.equal(snapshot.used, 2);
    assert.equal(snapshot.usedHere, 1);
    assert.deepEqual(snapshot.holders.map((holder) => `${holder.windowId}:${holder.label}`).sort(), ['window-a:demo', 'window-b:claude']);
    await first.release();
    await first.release();
    assert.deepEqual(slotFiles().length, 1);
    assert.ok(await b.tryAcquire({ label: 'demo' }));
  });

  it('writes the whole lease and rewrites it atomically when the agent child is bound', async () => {
    const budget = await open();
    const slot = (await budget.tryAcquire({ label: 'demo' }))!;
    const self = await currentProcessIdentity();
    const read = () => JSON.parse(readFileSync(path.join(dir, 'slots', slot.id), 'utf8')) as SlotLease;
    const before = read();
    assert.equal(before.ownerPid, process.pid);
    assert.equal(before.ownerStartTime, self.startTime);
    assert.equal(before.windowId, 'window-a');
    assert.equal(before.label, 'demo');
    assert.match(before.nonce, /^[0-9a-f]{16}$/);
    await slot.bindProcess({ pid: 4242, startTime: '777' });
    const after = read();
    assert.deepEqual(after, { ...before, childPid: 4242, childStartTime: '777' });
    await budget.refresh();
    assert.equal(budget.snapshot().holders[0]!.childPid, 4242);
    assert.deepEqual(readdirSync(path.join(dir, 'tmp')), []);
  });

  it('enforces the per-window quota and says which setting to change', async () => {
    const budget = await open({ maxAgentsTotal: 4, maxAgentsPerWindow: 1 });
    assert.ok(await budget.tryAcquire({ label: 'demo' }));
    assert.equal(await budget.tryAcquire({ label: 'demo' }), undefined);
    await assert.rejects(budget.acquire({ label: 'demo', timeoutMs: 20 }), /agentPool\.maxAgentsPerWindow \(1\)/);
  });

  it('wakes a waiter as soon as another window frees a slot, without polling', async () => {
    const waiter = await open({ windowId: 'window-a', sweepIntervalMs: 600_000, waitPollIntervalMs: 600_000 });
    const other = await open({ windowId: 'window-b' });
    const held = [(await other.tryAcquire({ label: 'x' }))!, (await other.tryAcquire({ label: 'y' }))!];
    const waiting = waiter.acquire({ label: 'demo', timeoutMs: 10_000 });
    await other.refresh();
    const releasedAt = performance.now();
    await held[0]!.release();
    const slot = await waiting;
    assert.ok(performance.now() - releasedAt < 2_000);
    assert.equal(slot.id, held[0]!.id);
  });

  it('times out naming the holders and the settings, and cancels on abort', async () => {
    const clock = new FakeClock();
    const budget = await open({ clock, maxAgentsTotal: 1, maxAgentsPerWindow: 1 });
    const other = await open({ clock, windowId: 'window-b', maxAgentsTotal: 1 });
    await other.tryAcquire({ label: 'claude' });
    await budget.refresh();
    const waiting = budget.acquire({ label: 'demo', timeoutMs: 5_000 });
    const failed = assert.rejects(waiting, (error: BudgetError) => {
      assert.equal(error.code, 'BUDGET_EXHAUSTED');
      assert.match(error.message, /1 of 1 agent slots are held: window-b \(1: claude\)/);
      assert.match(error.message, /agentPool\.maxAgentsTotal/);
      return true;
    });
    await clock.advance(5_000);
    await failed;

    const controller = new AbortController();
    const cancelled = budget.acquire({ label: 'demo', timeoutMs: 60_000, signal: controller.signal });
    controller.abort();
    await assert.rejects(cancelled, (error: BudgetError) => error.code === 'BUDGET_CANCELLED');
  });

  it('rejects waiters and new acquisitions once disposed', async () => {
    const budget = await open({ maxAgentsTotal: 1 });
    await budget.tryAcquire({ label: 'x' });
    const waiting = budget.acquire({ label: 'y', timeoutMs: 60_000 });
    budget.dispose();
    await assert.rejects(waiting, (error: BudgetError) => error.code === 'BUDGET_CLOSED');
    await assert.rejects(budget.tryAcquire({ label: 'z' }), (error: BudgetError) => error.code === 'BUDGET_CLOSED');
  });

  it('fires onDidChange when slots are taken or freed anywhere', async () => {
    const watcher = await open({ windowId: 'window-a', debounceMs: 5 });
    const other = await open({ windowId: 'window-b' });
    const taken = waitForEvent(watcher.onDidChange, (snapshot: BudgetSnapshot) => snapshot.used === 1, 5_000);
    const slot = (await other.tryAcquire({ label: 'x' }))!;
    await taken;
    const freed = waitForEvent(watcher.onDidChange, (snapshot: BudgetSnapshot) => snapshot.used === 0, 5_000);
    await slot.release();
    await freed;
  });

  it('never exceeds the cap with racing processes', async function () {
    this.timeout(30_000);
    const markers = path.join(temp.dir, 'markers');
    mkdirSync(markers);
    const goFile = path.join(temp.dir, 'go');
    const actors = await Promise.all(
      Array.from({ length: 6 }, () => Actor.start('holder', [dir, markers, '2', '3', JSON.stringify({ goFile, holdMinMs: 20, holdMaxMs: 60 })])),
    );
    await Promise.all(actors.map((actor) => actor.waitFor('ready')));
    writeFileSync(goFile, '');
    await Promise.all(actors.map((actor) => actor.waitFor('done', 25_000))).catch((error) => {
      console.log(actors.map((actor) => JSON.stringify(actor.lines)).join('\n'));
      throw error;
    });
    const holds = actors.flatMap((actor) => actor.lines.filter((line) => line.event === 'hold'));
    assert.equal(holds.length, 18);
    assert.equal(Math.max(...holds.map((line) => line.holders as number)), 2);
    assert.equal(holds.reduce((sum, line) => sum + (line.duplicates as number), 0), 0);
    assert.ok(actors.every((actor) => actor.lines.filter((line) => line.event === 'released').every((line) => line.stillOurs)));
    assert.deepEqual(slotFiles(), []);
  });

  it('rejects bad options by name', async () => {
    await assert.rejects(SlotFileBudget.open({ directory: dir, maxAgentsTotal: 0, windowId: 'w' }), /agentPool\.maxAgentsTotal/);
    await assert.rejects(SlotFileBudget.open({ directory: dir, maxAgentsTotal: 2, windowId: 'w', cap: 3 } as never), /unknown option "cap"/);
  });
});
