import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { SlotFileBudget } from '../../../src/core/budget/slotFileBudget';
import { identityOf, killIdentified, processLiveness } from '../../../src/core/process/identity';
import { FileInstanceRegistry } from '../../../src/core/registry/fileInstanceRegistry';
import { Actor, CollectingLogger, makeTempDir } from './helpers';

/** Real windows: child processes that register, hold slots and run `sleep` agents. */
describe('dead and frozen windows (real processes)', function () {
  this.timeout(30_000);
  let temp: ReturnType<typeof makeTempDir>;
  let dir: string;
  const actors: Actor[] = [];
  const disposables: { dispose(): void }[] = [];

  beforeEach(() => {
    temp = makeTempDir();
    dir = path.join(temp.dir, 'registry');
  });
  afterEach(async () => {
    for (const actor of actors.splice(0)) {
      actor.kill('SIGCONT');
      actor.kill('SIGKILL');
      await actor.exited;
      // The window's agents outlive it unless a sweep runs; this test's sweeps have stopped.
      const children = (actor.lines.find((line) => line.event === 'ready')?.children ?? []) as number[];
      for (const pid of children) {
        const identity = await identityOf(pid);
        if (identity) await killIdentified(identity);
      }
    }
    for (const disposable of disposables.splice(0)) disposable.dispose();
    temp.remove();
  });

  async function startWindow(slots: number, cap = 8): Promise<{ actor: Actor; id: string; children: number[] }> {
    const actor = await Actor.start('window', [dir, String(cap), String(slots)]);
    actors.push(actor);
    const ready = await actor.waitFor('ready');
    return { actor, id: ready.id as string, children: ready.children as number[] };
  }

  it('reclaims a SIGKILLed window within 3 s: record, slots and agent processes', async () => {
    const registry = new FileInstanceRegistry({ directory: dir, log: new CollectingLogger() });
    disposables.push(registry);
    await registry.start();
    const window = await startWindow(2);
    const children = await Promise.all(window.children.map((pid) => identityOf(pid)));
    await registry.refresh();
    assert.ok(registry.instances().some((view) => view.record.id === window.id));
    assert.equal(readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('slot-')).length, 2);

    // Wait longer than the goal, so a slow detection fails on the figure below rather than on a timeout.
    const left = waitForEvent(registry.onDidChange, (change) => change.kind === 'left' && change.id === window.id, 10_000);
    const killedAt = performance.now();
    window.actor.kill('SIGKILL');
    await left;
    const detectedMs = performance.now() - killedAt;
    assert.ok(detectedMs <= 3_000, `detected after ${detectedMs} ms`);
    assert.equal(existsSync(path.join(dir, 'instances', `${window.id}.json`)), false);
    // The sweep that removed the record freed the slots in the same pass, killing the agents first.
    assert.deepEqual(readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('slot-')), []);
    for (const child of children) assert.equal(await processLiveness(child!), 'dead');
  });

  it('keeps a frozen window: unresponsive, but its record and slots stay and it comes back', async () => {
    const registry = new FileInstanceRegistry({ directory: dir, log: new CollectingLogger(), unresponsiveAfterMs: 1_000, sweepIntervalMs: 200 });
    disposables.push(registry);
    const budget = await SlotFileBudget.open({ directory: dir, maxAgentsTotal: 2, windowId: 'test', sweepIntervalMs: 100, log: new CollectingLogger() });
    disposables.push(budget);
    await registry.start();
    const window = await startWindow(2, 2);
    await registry.refresh();
    const unresponsive = waitForEvent(registry.onDidChange, (change) => change.kind === 'unresponsive', 10_000);
    window.actor.kill('SIGSTOP');
    await unresponsive;
    // Several sweeps while frozen: nothing of the frozen window may be taken.
    for (let i = 0; i < 5; i++) assert.deepEqual((await budget.sweep()).reclaimed, []);
    assert.equal(await budget.tryAcquire({ label: 'intruder' }), undefined);
    assert.ok(existsSync(path.join(dir, 'instances', `${window.id}.json`)));
    const back = waitForEvent(registry.onDidChange, (change) => change.kind === 'changed' && change.instance.health === 'live', 10_000);
    window.actor.kill('SIGCONT');
    await back;
  });
});
