import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BudgetSnapshot } from '../../../src/core/budget/budget';
import { SlotFileBudget, type SlotFileBudgetOptions } from '../../../src/core/budget/slotFileBudget';
import { newNonce, type SlotLease } from '../../../src/core/budget/slotLease';
import { SlotStore } from '../../../src/core/budget/slotStore';
import { SlotSweeper } from '../../../src/core/budget/slotSweeper';
import { waitForEvent } from '../../../src/core/common/event';
import { currentProcessIdentity, identityOf, newSpawnToken, processLiveness, SPAWN_TOKEN_ENV, type ProcessIdentity } from '../../../src/core/process/identity';
import { BadFileTracker } from '../../../src/core/directory/badFiles';
import { silentLogger } from '../../../src/core/common/logger';
import { registryPaths } from '../../../src/core/directory/layout';
import { nodeFileSystem } from '../../../src/core/directory/privateFiles';
import { Actor, CollectingLogger, deadProcessIdentity, FakeClock, makeTempDir } from '../registry/helpers';

describe('slot reclaim: only on proof of death, exactly one winner', function () {
  this.timeout(20_000);
  let temp: ReturnType<typeof makeTempDir>;
  let dir: string;
  const opened: SlotFileBudget[] = [];
  const sleepers: ChildProcess[] = [];
  const actors: Actor[] = [];
  const open = async (options: Partial<SlotFileBudgetOptions> = {}) => {
    const budget = await SlotFileBudget.open({ directory: dir, maxAgentsTotal: 2, windowId: 'reader', log: new CollectingLogger(), ...options });
    opened.push(budget);
    return budget;
  };
  const slotFiles = () => readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('slot-'));
  const allSlotDirFiles = () => readdirSync(path.join(dir, 'slots')).sort();
  /** A stand-in agent, started as the pool starts agents: with a spawn token in its environment. */
  async function sleeper(): Promise<ProcessIdentity> {
    const spawnToken = newSpawnToken();
    const child = spawn('sleep', ['60'], { stdio: 'ignore', detached: true, env: { ...process.env, [SPAWN_TOKEN_ENV]: spawnToken } });
    sleepers.push(child);
    return { ...(await identityOf(child.pid!))!, spawnToken };
  }
  function writeLease(index: number, owner: ProcessIdentity, child?: ProcessIdentity): SlotLease {
    const lease: SlotLease = {
      schema: 1,
      nonce: newNonce(),
      ownerPid: owner.pid,
      ownerStartTime: owner.startTime,
      hostname: os.hostname(),
      windowId: 'gone-window',
      label: 'demo',
      acquiredAt: 0,
      ...(child ? { childPid: child.pid, childStartTime: child.startTime, ...(child.spawnToken ? { childSpawnToken: child.spawnToken } : {}) } : {}),
    };
    mkdirSync(path.join(dir, 'slots'), { recursive: true });
    writeFileSync(path.join(dir, 'slots', `slot-${index}`), JSON.stringify(lease));
    return lease;
  }

  beforeEach(() => {
    temp = makeTempDir('agent-pool-reclaim-');
    dir = path.join(temp.dir, 'registry');
  });
  afterEach(async () => {
    for (const budget of opened.splice(0)) budget.dispose();
    for (const child of sleepers.splice(0)) child.kill('SIGKILL');
    for (const actor of actors.splice(0)) {
      actor.kill('SIGCONT');
      actor.kill('SIGKILL');
      await actor.exited;
    }
    temp.remove();
  });

  it('frees the slot of a SIGKILLed holder process within one sweep period', async () => {
    const markers = path.join(temp.dir, 'markers');
    mkdirSync(markers);
    const holder = await Actor.start('holder', [dir, markers, '2', '1', JSON.stringify({ holdMinMs: 60_000, holdMaxMs: 60_000 })]);
    actors.push(holder);
    await holder.waitFor('hold');
    const budget = await open({ sweepIntervalMs: 500 });
    assert.equal(budget.snapshot().used, 1);
    const freed = waitForEvent(budget.onDidChange, (snapshot: BudgetSnapshot) => snapshot.used === 0, 3_000);
    holder.kill('SIGKILL');
    await freed;
    assert.deepEqual(slotFiles(), []);
  });

  it('kills the live agent of a dead owner (start time matching) and then frees its slot', async () => {
    const budget = await open({ sweepIntervalMs: 600_000 });
    const child = await sleeper();
    writeLease(0, await deadProcessIdentity(), child);
    const result = await budget.sweep();
    assert.deepEqual(result.killedOrphans, [child.pid]);
    assert.equal(await processLiveness(child), 'dead');
    assert.deepEqual(slotFiles(), []);
  });

  it('judges the lease as it stands after the owner died, not as first listed (a bind in between)', async () => {
    const child = await sleeper();
    const owner = await deadProcessIdentity();
    const store = new SlotStore(registryPaths(dir), nodeFileSystem, new BadFileTracker(silentLogger, 'test'));
    await store.prepare();
    const lease = writeLease(0, owner);
    const staleListing = await store.list();
    // The owner bound its agent after our listing, then died: same nonce, now with a child.
    writeFileSync(path.join(dir, 'slots', 'slot-0'), JSON.stringify({ ...lease, childPid: child.pid, childStartTime: child.startTime, childSpawnToken: child.spawnToken }));
    class StaleStore extends SlotStore {
      override async list() {
        return staleListing;
      }
    }
    const stale = new StaleStore(registryPaths(dir), nodeFileSystem, new BadFileTracker(silentLogger, 'test'));
    const sweeper = new SlotSweeper(stale, await currentProcessIdentity(), os.hostname(), new FakeClock(), silentLogger, 10_000);
    const result = await sweeper.sweep({ killOrphans: true });
    assert.deepEqual(result.killedOrphans, [child.pid], 'the agent bound after the listing was killed, not orphaned');
    assert.deepEqual(result.reclaimed, ['slot-0']);
    assert.equal(await processLiveness(child), 'dead');
  });

  it('never kills a process that merely reuses the recorded child pid', async () => {
    const budget = await open({ sweepIntervalMs: 600_000 });
    const stranger = await sleeper();
    writeLease(0, await deadProcessIdentity(), { pid: stranger.pid, startTime: `${stranger.startTime}0` });
    const result = await budget.sweep();
    assert.deepEqual(result.killedOrphans, []);
    assert.equal(await processLiveness(stranger), 'alive');
    assert.deepEqual(result.reclaimed, ['slot-0'], 'the recorded child is provably gone');
  });

  it('keeps the slot of a live owner even when its agent has died', async () => {
    const owner = await sleeper();
    writeLease(0, owner, await deadProcessIdentity());
    const budget = await open();
    assert.deepEqual((await budget.sweep()).reclaimed, []);
    assert.deepEqual(slotFiles(), ['slot-0']);
  });

  it('lets exactly one of many live reclaimers free a dead slot', async () => {
    writeLease(0, await deadProcessIdentity());
    const claimants = await Promise.all(Array.from({ length: 6 }, () => sleeper()));
    const stores = claimants.map(() => new SlotStore(registryPaths(dir), nodeFileSystem, new BadFileTracker(silentLogger, 'test')));
    await stores[0]!.prepare();
    const entry = (await stores[0]!.read(0))!;
    const outcomes = await Promise.all(stores.map((store, i) => store.reclaim(entry, claimants[i]!)));
    assert.equal(outcomes.filter((outcome) => outcome === 'reclaimed').length, 1, outcomes.join());
    assert.deepEqual(allSlotDirFiles(), [], 'no slot and no tomb left');
  });

  it('takes over from a reclaimer killed half-way, and waits for one that is only slow', async () => {
    const lease = writeLease(0, await deadProcessIdentity());
    const deadReclaimer = await deadProcessIdentity();
    writeFileSync(path.join(dir, 'slots', `tomb-0-${lease.nonce}-0`), JSON.stringify(deadReclaimer));
    const slowReclaimer = await sleeper();
    writeFileSync(path.join(dir, 'slots', `tomb-0-${lease.nonce}-1`), JSON.stringify(slowReclaimer));
    const budget = await open();
    assert.deepEqual((await budget.sweep()).reclaimed, [], 'a live reclaimer holds generation 1');
    process.kill(slowReclaimer.pid, 'SIGKILL');
    while ((await processLiveness(slowReclaimer)) !== 'dead') await new Promise((resolve) => setTimeout(resolve, 5));
    assert.deepEqual((await budget.sweep()).reclaimed, ['slot-0']);
    assert.deepEqual(allSlotDirFiles(), []);
  });

  it('skips and counts unreadable slot files, and frees them after the grace period on its own clock', async () => {
    mkdirSync(path.join(dir, 'slots'), { recursive: true });
    writeFileSync(path.join(dir, 'slots', 'slot-0'), '');
    writeFileSync(path.join(dir, 'slots', 'slot-1'), '{"schema":1,"nonce":"ab');
    writeFileSync(path.join(dir, 'slots', 'slot-2'), 'garbage');
    writeFileSync(path.join(dir, 'slots', 'slot-3'), JSON.stringify({ schema: 1, nonce: 'zz', ownerPid: -1 }));
    writeFileSync(path.join(dir, 'slots', 'stray.txt'), 'x');
    const clock = new FakeClock();
    const budget = await open({ clock, maxAgentsTotal: 4, badSlotGraceMs: 10_000, sweepIntervalMs: 600_000 });
    assert.equal(await budget.tryAcquire({ label: 'demo' }), undefined);
    assert.equal(budget.snapshot().used, 4);
    assert.deepEqual((await budget.sweep()).reclaimed, []);
    const counts = budget.badFileCounts();
    assert.deepEqual([counts.empty, counts.truncated, counts.garbage, counts['wrong-schema'], counts['unexpected-name']], [1, 1, 1, 1, 1]);
    await clock.advance(10_000);
    assert.equal((await budget.sweep()).reclaimed.length, 4);
    assert.ok(await budget.tryAcquire({ label: 'demo' }));
  });

  it('a ±1 h wall-clock jump neither frees a live holder nor keeps a dead one', async () => {
    const clock = new FakeClock();
    const live = await sleeper();
    writeLease(0, live);
    writeLease(1, await deadProcessIdentity());
    const budget = await open({ clock, sweepIntervalMs: 600_000 });
    clock.jumpWall(3_600_000);
    await clock.advance(1_000);
    await budget.sweep();
    clock.jumpWall(-7_200_000);
    await clock.advance(1_000);
    await budget.sweep();
    assert.deepEqual(slotFiles(), ['slot-0']);
  });
});
