import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as os from 'node:os';
import * as path from 'node:path';
import { ManualClock, settle } from '../../fixtures/manualClock';
import { identityOf } from '../../../src/core/process/identity';
import type { CoreLogger } from '../../../src/core/common/logger';
import type { InstanceRecord } from '../../../src/core/registry/types';

/** The shared manual clock; here advance() also lets real file I/O settle after each timer. */
export class FakeClock extends ManualClock {
  constructor() {
    super({ start: 1_000, wallAtStart: Date.UTC(2026, 0, 15, 9, 30, 0) });
  }

  override advance(ms: number): Promise<void> {
    return this.advanceSettled(ms);
  }
}

export { settle };

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
