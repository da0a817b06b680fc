import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Clock, TimerHandle } from '../../../src/core/common/clock';
import { identityOf } from '../../../src/core/process/identity';
import type { CoreLogger } from '../../../src/core/registry/logger';
import type { InstanceRecord } from '../../../src/core/registry/types';

/** A clock the test drives: timers fire only on advance(); the wall clock can jump on its own. */
export class FakeClock implements Clock {
  private mono = 1_000;
  private wallOffset = Date.UTC(2026, 0, 15, 9, 30, 0) - 1_000;
  private readonly timers = new Map<number, { at: number; callback: () => void }>();
  private nextId = 1;

  wallNow(): number {
    return this.wallOffset + this.mono;
  }

  monotonicNow(): number {
    return this.mono;
  }

  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.nextId++;
    this.timers.set(id, { at: this.mono + Math.max(0, ms), callback });
    return { id } as TimerHandle;
  }

  clearTimeout(handle: TimerHandle): void {
    this.timers.delete((handle as { id: number }).id);
  }

  /** Moves both clocks forward, firing due timers in order and letting their promises settle. */
  async advance(ms: number): Promise<void> {
    const target = this.mono + ms;
    for (;;) {
      const due = [...this.timers.entries()].filter(([, timer]) => timer.at <= target).sort((a, b) => a[1].at - b[1].at)[0];
      if (!due) break;
      this.timers.delete(due[0]);
      this.mono = Math.max(this.mono, due[1].at);
      due[1].callback();
      await settle();
    }
    this.mono = target;
    await settle();
  }

  /** A wall-clock jump (NTP step, sleep, a user changing the time): the monotonic clock does not move. */
  jumpWall(ms: number): void {
    this.wallOffset += ms;
  }
}

/** Lets pending I/O callbacks and promise chains run (real file I/O, so a few macrotask turns). */
export async function settle(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setImmediate(resolve));
}

export class CollectingLogger implements CoreLogger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`info ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`warn ${message}`);
  }
  error(message: string): void {
    this.lines.push(`error ${message}`);
  }
}

export function makeTempDir(prefix = 'agent-pool-registry-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export const isRoot = process.getuid?.() === 0;

export { Actor, type ActorLine } from '../../chaos/actorProcess';

/** The identity of a process that has just exited: as dead as a window can be. */
export async function deadProcessIdentity(): Promise<{ pid: number; startTime: string }> {
  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  const identity = (await identityOf(child.pid!))!;
  child.kill('SIGKILL');
  await once(child, 'exit');
  return identity;
}

export function writeRecordOfDeadProcess(dir: string, identity: { pid: number; startTime: string }, hostname = os.hostname()): string {
  const id = `20250101_000000_${identity.pid}_deadbeef`;
  const record: InstanceRecord = {
    schema: 1,
    id,
    pid: identity.pid,
    processStartTime: identity.startTime,
    hostname,
    workspaceName: 'gone',
    workspaceFolders: [],
    extensionVersion: '0.0.1',
    startedAt: 0,
    lifecycle: 'ACTIVE',
    heartbeatSeq: 3,
    heartbeatAt: 0,
  };
  mkdirSync(path.join(dir, 'instances'), { recursive: true });
  writeFileSync(path.join(dir, 'instances', `${id}.json`), JSON.stringify(record));
  return id;
}
