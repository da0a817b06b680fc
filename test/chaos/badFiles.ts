import { chownSync, mkdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { FileInstanceRegistry } from '../../src/core/registry/fileInstanceRegistry';
import { silentLogger } from '../../src/core/common/logger';
import { Actor } from './actorProcess';
import { crashLines, phaseDirectory, sleep, type ChaosContext } from './common';

const RECORD_ID = (n: number) => `20260101_000000_${900000 + n}_${n.toString(16).padStart(8, '0')}`;

/**
 * Every kind of bad file, in `instances/` and in `slots/`, while a reader process refreshes the
 * registry and takes and frees slots in a tight loop; files also vanish as they are read.
 */
export async function badFileBarrage(context: ChaosContext) {
  const { dir } = phaseDirectory(context, 'bad-files');
  for (const sub of ['instances', 'slots', 'tmp']) mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  const seconds = context.scale === 'full' ? 5 : 3;
  const observer = await Actor.start('observer', [dir, String(seconds), JSON.stringify({ badSlotGraceMs: 1000 })]);
  await observer.waitFor('ready');

  // The runner reads too, in this process: a throw here would be a crash of the host.
  const registry = new FileInstanceRegistry({ directory: dir, log: silentLogger, sweepIntervalMs: 50, debounceMs: 1 });
  let inProcessCrashes = 0;
  const onCrash = () => inProcessCrashes++;
  process.on('uncaughtException', onCrash);
  await registry.start();

  const instances = path.join(dir, 'instances');
  const slots = path.join(dir, 'slots');
  const goodShape = {
    schema: 1,
    pid: 1,
    processStartTime: '1',
    hostname: 'x',
    workspaceName: 'w',
    workspaceFolders: [],
    extensionVersion: '0',
    startedAt: 0,
    lifecycle: 'ACTIVE',
    heartbeatSeq: 0,
    heartbeatAt: 0,
  };
  let n = 0;
  const tried: Record<string, number> = {};
  const write = (kind: string, file: string, content: string | Buffer) => {
    writeFileSync(file, content);
    tried[kind] = (tried[kind] ?? 0) + 1;
  };
  for (const folder of [instances]) {
    write('empty', path.join(folder, `${RECORD_ID(++n)}.json`), '');
    write('truncated', path.join(folder, `${RECORD_ID(++n)}.json`), JSON.stringify({ ...goodShape, id: RECORD_ID(n) }).slice(0, 40));
    write('garbage', path.join(folder, `${RECORD_ID(++n)}.json`), Buffer.from([0, 255, 13, 10, 0x7b, 0x80]));
    write('wrong-schema', path.join(folder, `${RECORD_ID(++n)}.json`), JSON.stringify({ ...goodShape, id: RECORD_ID(n), pid: 'one' }));
    write('wrong-schema', path.join(folder, `${RECORD_ID(++n)}.json`), JSON.stringify([1, 2, 3]));
    write('wrong-schema', path.join(folder, `${RECORD_ID(++n)}.json`), JSON.stringify({ ...goodShape, id: RECORD_ID(999) }));
    write('wrong-schema', path.join(folder, `${RECORD_ID(++n)}.json`), 'null');
    write('huge', path.join(folder, `${RECORD_ID(++n)}.json`), `{"pad":"${'x'.repeat(400 * 1024)}"}`);
    write('unexpected-name', path.join(folder, 'stray.json'), '{}');
    mkdirSync(path.join(folder, `${RECORD_ID(++n)}.json`));
    tried['not-a-file'] = 1;
    symlinkSync('/etc/hostname', path.join(folder, `${RECORD_ID(++n)}.json`));
    tried.symlink = 1;
    if (process.getuid?.() === 0) {
      write('foreign-owner', path.join(folder, `${RECORD_ID(++n)}.json`), JSON.stringify({ ...goodShape, id: RECORD_ID(n) }));
      chownSync(path.join(folder, `${RECORD_ID(n)}.json`), 12345, 12345);
    }
  }
  write('empty-slot', path.join(slots, 'slot-0'), '');
  write('truncated-slot', path.join(slots, 'slot-1'), '{"schema":1,"nonce":"abcd');
  write('garbage-slot', path.join(slots, 'slot-2'), 'GARBAGE\u0000');
  write('wrong-schema-slot', path.join(slots, 'slot-3'), JSON.stringify({ schema: 1, nonce: 'not-hex', ownerPid: 0 }));
  write('garbage-tomb', path.join(slots, 'tomb-0-abc-0'), 'not a claimant');
  write('stray-slot-file', path.join(slots, 'notes.txt'), 'hello');

  // Vanishing files: created and removed while the readers list and read the directory.
  const vanishUntil = performance.now() + 1500;
  while (performance.now() < vanishUntil) {
    const file = path.join(instances, `${RECORD_ID(++n)}.json`);
    writeFileSync(file, JSON.stringify({ ...goodShape, id: RECORD_ID(n) }));
    tried.vanishing = (tried.vanishing ?? 0) + 1;
    await sleep(1);
    unlinkSync(file);
    await registry.refresh();
  }

  const report = await observer.waitFor('report', 60_000);
  const exit = await observer.exited;
  await registry.refresh();
  process.off('uncaughtException', onCrash);
  const registryCounted = registry.badFileCounts();
  registry.dispose();
  const crashes = crashLines([observer]).length + (exit.code === 0 ? 0 : 1) + inProcessCrashes;
  const triedTotal = Object.values(tried).reduce((sum, count) => sum + count, 0);
  const figures = {
    tried: triedTotal,
    triedByKind: tried,
    crashes,
    observerCycles: report.cycles,
    slotsGrantedMeanwhile: report.granted,
    countedByObserver: { registry: report.registryBadFiles, slots: report.budgetBadFiles },
    countedInRunner: registryCounted,
    unreadableSlotsFreedAfterGrace: report.slotsLeft === 0,
  };
  if (crashes > 0) context.violation(`bad files: ${crashes} crashes`);
  if (report.slotsLeft !== 0) context.violation(`bad files: ${String(report.slotsLeft)} unreadable slot files never freed`);
  if ((report.granted as number) === 0) context.violation('bad files: the reader could not take a single slot');
  return figures;
}
