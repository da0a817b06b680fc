/**
 * A real process playing one part in the registry/budget fault tests; it speaks JSON lines on
 * stdout (synchronous on Linux pipes, so a line written just before a SIGKILL still arrives).
 *
 *   holder <dir> <markers> <cap> <rounds> [options as JSON]   takes a slot, proves nobody else has it, releases
 *   window <dir> <cap> <slots> [options as JSON]              registers, holds slots bound to `sleep` children, stays
 *   observer <dir> <seconds> [options as JSON]               reads everything bad files can break, reports counts
 *   turn <dir> <dist> <options as JSON>                       runs one prompt through a real pool (the demo agent)
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { SlotFileBudget } from '../../src/core/budget/slotFileBudget';
import type { SlotFaultPoint } from '../../src/core/budget/slotStore';
import { identityOf, newSpawnToken, processLiveness, SPAWN_TOKEN_ENV, type ProcessIdentity } from '../../src/core/process/identity';
import { FileInstanceRegistry } from '../../src/core/registry/fileInstanceRegistry';
import { silentLogger } from '../../src/core/common/logger';
import { errorMessage } from '../../src/core/common/errors';
import { readSettings } from '../../src/core/config/settings';
import { AgentPoolService } from '../../src/core/service/agentPoolService';

interface HolderOptions {
  holdMinMs?: number;
  holdMaxMs?: number;
  timeoutMs?: number;
  /** Wait until this file exists before racing. */
  goFile?: string;
  /** Probability per fault point of SIGKILLing ourselves right there. */
  suicide?: Partial<Record<SlotFaultPoint, number>>;
  /** Probability that a held slot is bound to a real `sleep` child. */
  childProbability?: number;
  sweepIntervalMs?: number;
}

const say = (value: object) => process.stdout.write(`${JSON.stringify({ ...value, t: Date.now() })}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (min: number, max: number) => min + Math.random() * (max - min);

process.on('uncaughtException', (error) => {
  say({ event: 'crash', error: String(error?.stack ?? error) });
  process.exit(70);
});
process.on('unhandledRejection', (error) => {
  say({ event: 'crash', error: String((error as Error)?.stack ?? error) });
  process.exit(70);
});

function faultHook(suicide: HolderOptions['suicide']) {
  return (point: SlotFaultPoint, detail: string) => {
    if (process.env.CHAOS_TRACE) say({ event: 'trace', point, detail });
    const probability = suicide?.[point] ?? 0;
    if (probability > 0 && Math.random() < probability) {
      say({ event: 'suicide', point });
      process.kill(process.pid, 'SIGKILL');
    }
  };
}

/** A stand-in agent, started as the pool starts agents: with a spawn token in its environment. */
async function spawnSleeper(): Promise<ProcessIdentity> {
  const spawnToken = newSpawnToken();
  const child = spawn('sleep', ['600'], { detached: true, stdio: 'ignore', env: { ...process.env, [SPAWN_TOKEN_ENV]: spawnToken } });
  child.unref();
  const identity = await identityOf(child.pid!);
  if (!identity) throw new Error('sleep child vanished at once');
  return { ...identity, spawnToken };
}

interface Marker {
  name: string;
  content: string;
  slot: string;
  pid: number;
  startTime: string;
}

function readMarkers(markers: string): Marker[] {
  const found: Marker[] = [];
  for (const name of readdirSync(markers)) {
    try {
      const content = readFileSync(path.join(markers, name), 'utf8');
      const [slot, pid, startTime, token] = content.split(' ');
      if (slot && pid && startTime && token) found.push({ name, content, slot, pid: Number(pid), startTime });
    } catch {
      // Removed while listing: its holder is releasing.
    }
  }
  return found;
}

/**
 * Holders at one instant, and any slot claimed by two of them. A marker is written after a slot is
 * won and removed before it is freed, and holds a token unique to that hold. The directory is read
 * twice: a marker unchanged in both reads was held at the second read, and if its process is still
 * alive after that, its slot cannot have been reclaimed. So the count is a true lower bound of the
 * holders at that instant, and a clash is a proven double grant, whatever the timing of the reads.
 */
async function checkMarkers(markers: string): Promise<{ holders: number; duplicates: number; clash?: string[] }> {
  const first = readMarkers(markers);
  const again = new Map(readMarkers(markers).map((marker) => [marker.name, marker.content]));
  const live: Marker[] = [];
  for (const marker of first) {
    if (again.get(marker.name) !== marker.content) continue;
    if ((await processLiveness({ pid: marker.pid, startTime: marker.startTime })) !== 'dead') live.push(marker);
  }
  const bySlot = new Map<string, Marker[]>();
  for (const marker of live) bySlot.set(marker.slot, [...(bySlot.get(marker.slot) ?? []), marker]);
  const clashes = [...bySlot]
    .filter(([, holders]) => holders.length > 1)
    .map(([slot, holders]) => `${slot}:${holders.map((marker) => `${marker.pid}/${marker.startTime}`).join(',')}`);
  return { holders: live.length, duplicates: clashes.length, ...(clashes.length ? { clash: clashes } : {}) };
}

async function holder(dir: string, markers: string, cap: number, rounds: number, options: HolderOptions): Promise<void> {
  const budget = await SlotFileBudget.open({
    directory: dir,
    maxAgentsTotal: cap,
    windowId: `holder-${process.pid}`,
    log: silentLogger,
    sweepIntervalMs: options.sweepIntervalMs ?? 2000,
    faultHook: faultHook(options.suicide),
  });
  const self = await identityOf(process.pid);
  say({ event: 'ready', pid: process.pid });
  if (options.goFile) while (!existsSync(options.goFile)) await sleep(10);
  for (let round = 0; round < rounds; round++) {
    say({ event: 'acquiring' });
    const slot = await budget.acquire({ label: 'chaos', timeoutMs: options.timeoutMs ?? 120_000 });
    const marker = path.join(markers, String(process.pid));
    writeFileSync(marker, `${slot.id} ${process.pid} ${self!.startTime} ${randomBytes(6).toString('hex')}`);
    const seen = await checkMarkers(markers);
    let child: { pid: number; startTime: string } | undefined;
    if (Math.random() < (options.childProbability ?? 0)) {
      child = await spawnSleeper();
      // Said before binding so the runner can clean up a child whose holder dies in between.
      say({ event: 'child', child });
      await slot.bindProcess(child);
    }
    const lease = JSON.parse(readFileSync(path.join(dir, 'slots', slot.id), 'utf8')) as { nonce: string };
    say({ event: 'hold', slot: slot.id, nonce: lease.nonce, holders: seen.holders, duplicates: seen.duplicates, clash: seen.clash, child });
    await sleep(between(options.holdMinMs ?? 20, options.holdMaxMs ?? 100));
    // After a hold (maybe frozen by SIGSTOP for half a minute) the slot must still be ours alone.
    let stillOurs = false;
    try {
      stillOurs = (JSON.parse(readFileSync(path.join(dir, 'slots', slot.id), 'utf8')) as { nonce: string }).nonce === lease.nonce;
    } catch {
      stillOurs = false;
    }
    const after = await checkMarkers(markers);
    unlinkSync(marker);
    if (child) process.kill(-child.pid, 'SIGKILL');
    await slot.release();
    say({ event: 'released', slot: slot.id, stillOurs, duplicates: after.duplicates, clash: after.clash });
  }
  budget.dispose();
  say({ event: 'done' });
}

async function window(dir: string, cap: number, slots: number, options: { unresponsiveAfterMs?: number }): Promise<void> {
  const registry = new FileInstanceRegistry({ directory: dir, log: silentLogger, unresponsiveAfterMs: options.unresponsiveAfterMs });
  const record = await registry.register({ workspaceName: `chaos-${process.pid}`, workspaceFolders: [dir], extensionVersion: '0.0.0-chaos' });
  const budget = await SlotFileBudget.open({ directory: dir, maxAgentsTotal: cap, windowId: record.id, log: silentLogger });
  const children: number[] = [];
  const slotIds: string[] = [];
  for (let i = 0; i < slots; i++) {
    const slot = await budget.acquire({ label: `agent-${i}`, timeoutMs: 30_000 });
    const child = await spawnSleeper();
    await slot.bindProcess(child);
    children.push(child.pid);
    slotIds.push(slot.id);
  }
  say({ event: 'ready', id: record.id, pid: process.pid, slots: slotIds, children });
  setInterval(() => undefined, 1 << 30);
}

async function observer(dir: string, seconds: number, options: { badSlotGraceMs?: number }): Promise<void> {
  const registry = new FileInstanceRegistry({ directory: dir, log: silentLogger, sweepIntervalMs: 100, debounceMs: 5 });
  await registry.start();
  const budget = await SlotFileBudget.open({
    directory: dir,
    maxAgentsTotal: 4,
    windowId: 'observer',
    log: silentLogger,
    sweepIntervalMs: 100,
    badSlotGraceMs: options.badSlotGraceMs ?? 1000,
  });
  say({ event: 'ready', pid: process.pid });
  const until = performance.now() + seconds * 1000;
  let cycles = 0;
  let granted = 0;
  while (performance.now() < until) {
    await registry.refresh();
    registry.instances();
    const slot = await budget.tryAcquire({ label: 'observer' });
    if (slot) {
      granted++;
      await slot.release();
    }
    budget.snapshot();
    cycles++;
    await sleep(5);
  }
  await budget.sweep();
  say({
    event: 'report',
    cycles,
    granted,
    registryBadFiles: registry.badFileCounts(),
    budgetBadFiles: budget.badFileCounts(),
    slotsLeft: readdirSync(path.join(dir, 'slots')).filter((name) => name.startsWith('slot-')).length,
  });
  budget.dispose();
  registry.dispose();
}

/**
 * One prompt through a real pool, as a window runs it (AgentPoolService, the built demo agent in
 * `dist`): says each event of the agent as it comes, then how the turn ended. For freezes mid-turn.
 */
async function turn(dir: string, dist: string, options: { idleWatchdogSeconds: number; prompt: string }): Promise<void> {
  const values: Record<string, unknown> = { registryDirectory: dir, 'pool.minAgents': 1, 'pool.maxAgents': 1, 'pool.idleWatchdogSeconds': options.idleWatchdogSeconds };
  const { settings, problems } = readSettings((key) => values[key]);
  if (problems.length) throw new Error(problems.join('; '));
  // Agents run under the guardian found next to the running bundle, as in dist/: this bundle lives in a temp folder.
  if (!existsSync(path.join(__dirname, 'guardian.js'))) copyFileSync(path.join(dist, 'guardian.js'), path.join(__dirname, 'guardian.js'));
  const service = new AgentPoolService({
    settings,
    workspace: { name: `chaos-turn-${process.pid}`, folders: [dir] },
    extensionVersion: '0.0.0-chaos',
    cwd: dir,
    distDirectory: dist,
    spawnBlockedReason: () => undefined,
    log: () => undefined,
  });
  await service.start();
  await service.startPool('demo');
  say({ event: 'ready', pid: process.pid });
  let chunks = 0;
  try {
    const result = await service.run(options.prompt, { profiles: ['demo'], onEvent: (event) => say({ event: 'agent-event', kind: event.kind, n: event.kind === 'text' ? ++chunks : chunks }) });
    say({ event: 'answered', text: result.text, stopReason: result.stopReason, chunks });
  } catch (error) {
    say({ event: 'failed', code: (error as { code?: string }).code, message: errorMessage(error), chunks });
  }
  await service.shutdown();
  say({ event: 'done' });
}

const [role, ...args] = process.argv.slice(2);
const json = (text: string | undefined) => (text ? JSON.parse(text) : {});
const main =
  role === 'holder'
    ? holder(args[0]!, args[1]!, Number(args[2]), Number(args[3]), json(args[4]))
    : role === 'window'
      ? window(args[0]!, Number(args[1]), Number(args[2]), json(args[3]))
      : role === 'observer'
        ? observer(args[0]!, Number(args[1]), json(args[2]))
        : role === 'turn'
          ? turn(args[0]!, args[1]!, json(args[2]))
          : Promise.reject(new Error(`unknown role ${role}`));
main.catch((error) => {
  say({ event: 'error', error: String(error?.stack ?? error), code: error?.code });
  process.exit(1);
});
