import { existsSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { processLiveness } from '../../src/core/process/identity';
import { FileInstanceRegistry } from '../../src/core/registry/fileInstanceRegistry';
import { silentLogger } from '../../src/core/common/logger';
import type { RegistryChange } from '../../src/core/registry/types';
import { Actor } from './actorProcess';
import { crashLines, phaseDirectory, readLeases, sleep, summarize, type ChaosContext } from './common';

interface WindowActor {
  actor: Actor;
  id: string;
  slots: string[];
  children: number[];
}

/**
 * Windows are real processes that register, hold two slots each and run two `sleep` agents.
 * Each is SIGKILLed in turn: the time until its record, slots and agents are all gone is the
 * dead-window detection time (goal: 3 s). One more window is frozen past the unresponsive
 * threshold: it must be shown unresponsive, never reclaimed, and come back.
 */
export async function deadAndFrozenWindows(context: ChaosContext) {
  const full = context.scale === 'full';
  const windowCount = full ? 8 : 3;
  const unresponsiveAfterMs = full ? 15_000 : 2_000;
  const freezeMs = full ? 20_000 : 4_000;
  const { dir } = phaseDirectory(context, 'windows');
  context.note(`windows: ${windowCount} SIGKILLed windows, one frozen ${freezeMs / 1000} s`);

  const observer = new FileInstanceRegistry({ directory: dir, log: silentLogger, unresponsiveAfterMs });
  await observer.start();
  const changes: { at: number; change: RegistryChange }[] = [];
  observer.onDidChange((change) => changes.push({ at: performance.now(), change }));

  const start = async (): Promise<WindowActor> => {
    const actor = await Actor.start('window', [dir, '64', '2', JSON.stringify({ unresponsiveAfterMs })]);
    const ready = await actor.waitFor('ready', 60_000);
    return { actor, id: ready.id as string, slots: ready.slots as string[], children: ready.children as number[] };
  };
  const frozen = await start();
  const windows = await Promise.all(Array.from({ length: windowCount }, () => start()));
  const childIdentities = new Map<number, { pid: number; startTime: string }>();
  for (const window of windows) {
    for (const pid of window.children) {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      childIdentities.set(pid, { pid, startTime: stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]! });
    }
  }

  frozen.actor.kill('SIGSTOP');
  const frozenAt = performance.now();
  const detectionMs: number[] = [];
  let orphansLeft = 0;
  let undetected = 0;
  for (const window of windows) {
    const killedAt = performance.now();
    window.actor.kill('SIGKILL');
    const recordFile = path.join(dir, 'instances', `${window.id}.json`);
    for (;;) {
      const recordGone = !existsSync(recordFile);
      const slotsGone = !readLeases(dir).some((lease) => lease.ownerPid === window.actor.pid);
      let childrenGone = true;
      for (const pid of window.children) if ((await processLiveness(childIdentities.get(pid)!)) !== 'dead') childrenGone = false;
      if (recordGone && slotsGone && childrenGone) {
        detectionMs.push(performance.now() - killedAt);
        break;
      }
      if (performance.now() - killedAt > 15_000) {
        undetected++;
        if (!childrenGone) orphansLeft += window.children.length;
        break;
      }
      await sleep(20);
    }
  }
  const remaining = freezeMs - (performance.now() - frozenAt);
  if (remaining > 0) await sleep(remaining);
  const frozenRecordKept = existsSync(path.join(dir, 'instances', `${frozen.id}.json`));
  const frozenSlotsKept = readLeases(dir).filter((lease) => lease.ownerPid === frozen.actor.pid).length;
  frozen.actor.kill('SIGCONT');
  const cameBack = await new Promise<boolean>((resolve) => {
    const deadline = setTimeout(() => resolve(false), 10_000);
    const check = () => {
      const view = observer.instances().find((instance) => instance.record.id === frozen.id);
      if (view?.health === 'live') {
        clearTimeout(deadline);
        resolve(true);
      } else setTimeout(check, 50);
    };
    check();
  });
  const frozenChanges = changes.filter(({ change }) => ('id' in change ? change.id : change.instance.record.id) === frozen.id);
  const unresponsiveEvent = frozenChanges.find(({ change }) => change.kind === 'unresponsive');
  const leftEvent = frozenChanges.find(({ change }) => change.kind === 'left');

  frozen.actor.kill('SIGKILL');
  await Promise.all([frozen, ...windows].map((window) => window.actor.exited));
  // The frozen window's agents are reclaimed by the next sweep like any dead window's.
  await observer.cleanup();
  observer.dispose();
  const crashes = crashLines([frozen.actor, ...windows.map((window) => window.actor)]);

  const figures = {
    deadWindows: {
      killed: windowCount,
      detectionMs: summarize(detectionMs),
      within3s: detectionMs.filter((ms) => ms <= 3000).length,
      undetected,
      orphansLeft,
    },
    frozenWindow: {
      frozenMs: freezeMs,
      unresponsiveAfterMs,
      shownUnresponsiveAfterMs: unresponsiveEvent ? Math.round(unresponsiveEvent.at - frozenAt) : null,
      recordKept: frozenRecordKept,
      slotsKept: frozenSlotsKept,
      removedWhileFrozen: leftEvent !== undefined,
      liveAgain: cameBack,
    },
    crashes: crashes.length,
  };
  if (undetected > 0) context.violation(`windows: ${undetected} dead windows never fully reclaimed`);
  if (orphansLeft > 0) context.violation(`windows: ${orphansLeft} agent processes outlived their window`);
  if (detectionMs.some((ms) => ms > 3000)) context.note(`windows: detection above the 3 s goal: ${detectionMs.map(Math.round).join(', ')}`);
  if (!unresponsiveEvent) context.violation('windows: the frozen window was never shown unresponsive');
  if (leftEvent || !frozenRecordKept || frozenSlotsKept !== 2) context.violation('windows: the frozen window lost its record or slots');
  if (!cameBack) context.violation('windows: the frozen window did not come back live');
  for (const crash of crashes) context.violation(`windows: crash ${crash}`);
  return figures;
}
