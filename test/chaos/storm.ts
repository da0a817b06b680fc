import * as os from 'node:os';
import { readdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SlotStore } from '../../src/core/budget/slotStore';
import { SlotSweeper } from '../../src/core/budget/slotSweeper';
import { systemClock } from '../../src/core/common/clock';
import { currentProcessIdentity, killIdentified, processLiveness } from '../../src/core/process/identity';
import { BadFileTracker } from '../../src/core/directory/badFiles';
import { silentLogger } from '../../src/core/common/logger';
import { registryPaths } from '../../src/core/directory/layout';
import { nodeFileSystem } from '../../src/core/directory/privateFiles';
import { Actor } from './actorProcess';
import { crashLines, phaseDirectory, readLeases, sleep, slotFileNames, summarize, type ChaosContext } from './common';

const ACQUIRE_POINTS = new Set(['lease-written', 'slot-linked']);

/**
 * Holders loop acquire/hold/release on a cap of 8 while they are SIGKILLed from outside (at any
 * moment, often while waiting to acquire) and kill themselves at exact points of acquiring and
 * reclaiming. Meanwhile some holders are frozen with SIGSTOP for 5-30 s while holding.
 */
export async function killAndFreezeStorm(context: ChaosContext) {
  const full = context.scale === 'full';
  const cap = 8;
  const targetKills = full ? 520 : 60;
  const concurrency = full ? 12 : 8;
  const freezeSeconds = full ? [5, 10, 20, 30] : [5, 5];
  const { dir, markers, root } = phaseDirectory(context, 'storm');
  context.note(`storm: ${targetKills}+ SIGKILLs among ${concurrency} looping holders, freezes of ${freezeSeconds.join(', ')} s`);
  const holderOptions = JSON.stringify({
    holdMinMs: 20,
    holdMaxMs: 150,
    timeoutMs: 600_000,
    childProbability: 0.2,
    suicide: { 'lease-written': 0.01, 'slot-linked': 0.02, 'tomb-claimed': 0.2, 'reclaim-verified': 0.2, 'slot-unlinked': 0.1 },
  });

  const all: Actor[] = [];
  const live = new Set<Actor>();
  const deathAt = new Map<number, number>();
  const killedByUs = new Set<number>();
  const externalKillsBy: Record<string, number> = {};
  let stopping = false;
  let spawning = 0;

  const spawnHolder = async () => {
    spawning++;
    try {
      const actor = await Actor.start('holder', [dir, markers, String(cap), '1000000', holderOptions]);
      all.push(actor);
      live.add(actor);
      void actor.exited.then(() => {
        live.delete(actor);
        deathAt.set(actor.pid, performance.now());
        if (!stopping) void spawnHolder();
      });
    } finally {
      spawning--;
    }
  };

  // Reclaim time: from a holder's death to its lease leaving the slot, seen by polling every 25 ms.
  const reclaimMs: number[] = [];
  const leasesOfTheDead = new Map<string, number>();
  let polling = true;
  const poller = (async () => {
    while (polling) {
      const now = performance.now();
      const present = new Set<string>();
      for (const lease of readLeases(dir)) {
        const key = `${lease.slot}:${lease.nonce}`;
        present.add(key);
        const died = deathAt.get(lease.ownerPid);
        if (died !== undefined && !leasesOfTheDead.has(key)) leasesOfTheDead.set(key, died);
      }
      for (const [key, died] of leasesOfTheDead) {
        if (present.has(key)) continue;
        leasesOfTheDead.delete(key);
        reclaimMs.push(now - died);
      }
      await sleep(25);
    }
  })();

  for (let i = 0; i < concurrency; i++) void spawnHolder();

  // Frozen holders hold a slot for 1.5 s, and are stopped as soon as they say they hold it.
  const frozen: Actor[] = [];
  const freezes = freezeSeconds.map(async (seconds) => {
    const actor = await Actor.start('holder', [dir, markers, String(cap), '1', JSON.stringify({ holdMinMs: 1500, holdMaxMs: 1500, timeoutMs: 600_000 })]);
    frozen.push(actor);
    await actor.waitFor('hold', 600_000);
    actor.kill('SIGSTOP');
    await sleep(seconds * 1000);
    actor.kill('SIGCONT');
    await actor.exited;
  });

  const countSuicides = () => all.filter((actor) => actor.lines.some((line) => line.event === 'suicide')).length;
  let externalKills = 0;
  while (externalKills + countSuicides() < targetKills) {
    await sleep(full ? 45 : 60);
    const candidates = [...live].filter(
      (actor) => !killedByUs.has(actor.pid) && actor.lines.length > 0 && actor.lines.at(-1)!.event !== 'suicide',
    );
    if (candidates.length < concurrency / 2) continue;
    // Half the kills go to holders that hold a slot (with or without an agent), the rest anywhere.
    const holding = candidates.filter((actor) => ['hold', 'child'].includes(actor.lines.at(-1)!.event));
    const pool = holding.length > 0 && Math.random() < 0.5 ? holding : candidates;
    const victim = pool[Math.floor(Math.random() * pool.length)]!;
    const moment = victim.lines.at(-1)?.event ?? 'starting';
    externalKillsBy[moment] = (externalKillsBy[moment] ?? 0) + 1;
    killedByUs.add(victim.pid);
    victim.kill('SIGKILL');
    externalKills++;
  }
  await Promise.all(freezes);
  stopping = true;
  while (spawning > 0) await sleep(10);
  const finalKills = live.size;
  for (const actor of live) actor.kill('SIGKILL');
  await Promise.all([...all, ...frozen].map((actor) => actor.exited));
  await sleep(100);
  polling = false;
  await poller;

  // One sweep, by a process that took no part: what is left after it has leaked.
  const store = new SlotStore(registryPaths(dir), nodeFileSystem, new BadFileTracker(silentLogger, 'chaos'));
  const sweeper = new SlotSweeper(store, await currentProcessIdentity(), os.hostname(), systemClock, silentLogger, 10_000);
  const sweep = await sweeper.sweep({ killOrphans: true });
  const slotsLeaked = slotFileNames(dir).length;
  const tombsLeft = readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('tomb-')).length;
  const tempFilesLeft = readdirSync(path.join(dir, 'tmp')).length;
  const children = [...all, ...frozen].flatMap((actor) =>
    actor.lines.filter((line) => line.event === 'hold' && line.child).map((line) => line.child as { pid: number; startTime: string }),
  );
  let orphansLeft = 0;
  const orphanDetails: string[] = [];
  for (const child of children) {
    if ((await processLiveness(child)) === 'dead') continue;
    orphansLeft++;
    const owner = [...all, ...frozen].find((actor) => actor.lines.some((line) => (line.child as { pid?: number })?.pid === child.pid));
    orphanDetails.push(`child ${child.pid}/${child.startTime} of holder ${owner?.pid}: ${JSON.stringify(owner?.lines.slice(-4))}`);
  }
  for (const detail of orphanDetails) context.note(`storm: orphan ${detail}`);
  // Children spawned but never bound (holder killed in between) are invisible to the budget by
  // design; the agent guardian kills those. Clean them up so the machine is left as it was.
  for (const actor of all) {
    for (const line of actor.lines) if (line.event === 'child') await killIdentified(line.child as { pid: number; startTime: string });
  }

  const suicides = all.flatMap((actor) => actor.lines.filter((line) => line.event === 'suicide').map((line) => line.point as string));
  const midAcquire = suicides.filter((point) => ACQUIRE_POINTS.has(point)).length + (externalKillsBy.acquiring ?? 0);
  const midReclaim = suicides.filter((point) => !ACQUIRE_POINTS.has(point)).length;
  const holds = [...all, ...frozen].flatMap((actor) => actor.lines.filter((line) => line.event === 'hold'));
  const releases = [...all, ...frozen].flatMap((actor) => actor.lines.filter((line) => line.event === 'released'));
  const frozenReleases = frozen.flatMap((actor) => actor.lines.filter((line) => line.event === 'released'));
  const heldTwice =
    holds.reduce((sum, line) => sum + (line.duplicates as number), 0) +
    releases.reduce((sum, line) => sum + (line.duplicates as number) + (line.stillOurs ? 0 : 1), 0);
  const maxConcurrentHolders = Math.max(0, ...holds.map((line) => line.holders as number));
  const crashes = crashLines([...all, ...frozen]);

  const kills = {
    total: externalKills + suicides.length + finalKills,
    external: externalKills,
    selfAtFaultPoints: suicides.length,
    atEnd: finalKills,
    midAcquire,
    midReclaim,
    whileHolding: (externalKillsBy.hold ?? 0) + (externalKillsBy.child ?? 0),
    externalKillsByMoment: externalKillsBy,
    processes: all.length,
    holds: holds.length,
    maxConcurrentHolders,
    slotsLeakedAfterOneSweep: slotsLeaked,
    reclaimedByFinalSweep: sweep.reclaimed.length,
    tombsLeft,
    tempFilesLeft,
    orphansLeft,
    reclaimMs: summarize(reclaimMs),
    crashes: crashes.length,
  };
  const heldTwiceDetails = [...all, ...frozen]
    .flatMap((actor) =>
      actor.lines
        .filter((line) => (line.duplicates as number) > 0 || (line.event === 'released' && !line.stillOurs))
        .map((line) => ({ pid: actor.pid, frozen: frozen.includes(actor), ...line })),
    )
    .slice(0, 20);
  const freezeFigures = {
    count: freezeSeconds.length,
    seconds: freezeSeconds,
    frozenHoldersCompleted: frozenReleases.length,
    liveSlotsReclaimed: frozenReleases.filter((line) => !line.stillOurs).length,
    heldTwice,
    ...(heldTwice > 0 ? { heldTwiceDetails } : {}),
  };
  if (heldTwice > 0 || orphansLeft > 0) {
    const trace = [...all, ...frozen].flatMap((actor) => actor.lines.map((line) => JSON.stringify({ pid: actor.pid, ...line })));
    writeFileSync(path.join(root, 'lines.jsonl'), `${trace.join('\n')}\n`);
    context.note(`storm: every line of every holder is in ${path.join(root, 'lines.jsonl')}`);
  }
  if (kills.total < targetKills) context.violation(`storm: only ${kills.total} kills`);
  if (maxConcurrentHolders > cap) context.violation(`storm: ${maxConcurrentHolders} holders at once for a cap of ${cap}`);
  if (slotsLeaked > 0) context.violation(`storm: ${slotsLeaked} slots leaked after one sweep`);
  if (orphansLeft > 0) context.violation(`storm: ${orphansLeft} agent processes outlived their holders`);
  if (heldTwice > 0) context.violation(`storm: a slot was held twice (${heldTwice})`);
  if (freezeFigures.frozenHoldersCompleted !== freezeSeconds.length) context.violation('storm: a frozen holder did not finish');
  if (freezeFigures.liveSlotsReclaimed > 0) context.violation('storm: a frozen holder lost its slot');
  for (const crash of crashes) context.violation(`storm: crash ${crash}`);
  return { kills, freezes: freezeFigures };
}
