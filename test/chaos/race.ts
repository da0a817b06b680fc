import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { Actor } from './actorProcess';
import { crashLines, phaseDirectory, slotFileNames, waitForExits, type ChaosContext } from './common';

/** Up to 150 processes released at once on a cap of 8: the most holders ever seen together, and slots lost. */
export async function raceForTheCap(context: ChaosContext) {
  const processes = context.scale === 'full' ? 150 : 30;
  const cap = 8;
  const { dir, markers, root } = phaseDirectory(context, 'race');
  const goFile = path.join(root, 'go');
  context.note(`race: ${processes} processes for a cap of ${cap}`);
  const options = JSON.stringify({ goFile, holdMinMs: 150, holdMaxMs: 400, timeoutMs: 300_000 });
  const actors = await Promise.all(Array.from({ length: processes }, () => Actor.start('holder', [dir, markers, String(cap), '1', options])));
  await Promise.all(actors.map((actor) => actor.waitFor('ready', 120_000)));
  const startedAt = performance.now();
  writeFileSync(goFile, '');
  await waitForExits(actors);
  const holds = actors.flatMap((actor) => actor.lines.filter((line) => line.event === 'hold'));
  const releases = actors.flatMap((actor) => actor.lines.filter((line) => line.event === 'released'));
  const maxConcurrentHolders = Math.max(0, ...holds.map((line) => line.holders as number));
  const heldTwice =
    holds.reduce((sum, line) => sum + (line.duplicates as number), 0) +
    releases.reduce((sum, line) => sum + (line.duplicates as number) + (line.stillOurs ? 0 : 1), 0);
  const leftOnDisk = slotFileNames(dir).length;
  const slotsLost = processes - releases.length + leftOnDisk;
  const crashes = crashLines(actors);
  const figures = {
    processes,
    cap,
    maxConcurrentHolders,
    heldTwice,
    slotsLost,
    crashes: crashes.length,
    durationMs: Math.round(performance.now() - startedAt),
  };
  if (maxConcurrentHolders > cap) context.violation(`race: ${maxConcurrentHolders} holders at once for a cap of ${cap}`);
  if (maxConcurrentHolders < cap) context.violation(`race: only ${maxConcurrentHolders} holders at once, the cap ${cap} was never reached`);
  if (heldTwice > 0) context.violation(`race: a slot was held twice (${heldTwice})`);
  if (slotsLost > 0) context.violation(`race: ${slotsLost} slots lost (${leftOnDisk} left on disk)`);
  for (const crash of crashes) context.violation(`race: crash ${crash}`);
  return figures;
}
