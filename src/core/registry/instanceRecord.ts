import { randomBytes } from 'node:crypto';
import { count, listOf, literal, number, oneOf, optional, pidNumber, shapeProblems, text, wallTime } from '../common/shape';
import { INSTANCE_ID_PATTERN } from '../directory/layout';
import type { ProcessIdentity } from '../process/identity';
import type { InstanceRecord, RegisterInfo } from './types';

/** A window's first record: what every backend writes when it registers (heartbeat 0, at `now`). */
export function newInstanceRecord(info: RegisterInfo, self: ProcessIdentity, hostname: string, now: number): InstanceRecord {
  return {
    schema: 1,
    id: newInstanceId(now, self.pid),
    pid: self.pid,
    processStartTime: self.startTime,
    hostname,
    workspaceName: info.workspaceName,
    workspaceFolders: [...info.workspaceFolders],
    extensionVersion: info.extensionVersion,
    startedAt: now,
    lifecycle: info.lifecycle ?? 'ACTIVE',
    heartbeatSeq: 0,
    heartbeatAt: now,
    ...(info.address !== undefined ? { address: info.address } : {}),
    ...(info.maxAgentsTotal !== undefined ? { maxAgentsTotal: info.maxAgentsTotal } : {}),
  };
}

export function newInstanceId(wallNowMs: number, pid: number, random: Buffer = randomBytes(4)): string {
  const at = new Date(wallNowMs);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  const date = `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`;
  const time = `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
  return `${date}_${time}_${pid}_${random.toString('hex').slice(0, 8).padStart(8, '0')}`;
}

const RECORD_FIELDS = {
  schema: literal(1),
  id: text({ pattern: INSTANCE_ID_PATTERN }),
  pid: pidNumber(),
  processStartTime: text({ minLength: 1 }),
  hostname: text(),
  workspaceName: text(),
  workspaceFolders: listOf(text()),
  extensionVersion: text(),
  startedAt: wallTime(),
  lifecycle: oneOf(['ACTIVE', 'IDLE', 'COMPLETING']),
  heartbeatSeq: count(),
  heartbeatAt: wallTime(),
  address: optional(text()),
  maxAgentsTotal: optional(number({ integer: true, min: 1, max: 4096 })),
};

/** The same fields for readers that accept any id matching the file name (metrics, the CLI). */
const ANY_ID_RECORD_FIELDS = { ...RECORD_FIELDS, id: text({ minLength: 1 }) };

/**
 * Validates a parsed record, every field, before anything uses it; `expectedId` is the id its file
 * name claims. `anyId` accepts ids of any form (readers that do not own the registry's naming).
 */
export function validateRecord(
  value: unknown,
  expectedId: string,
  options: { anyId?: boolean } = {},
): { ok: true; value: InstanceRecord } | { ok: false; detail: string } {
  const problems = shapeProblems(value, options.anyId ? ANY_ID_RECORD_FIELDS : RECORD_FIELDS);
  if (problems) return { ok: false, detail: problems };
  const record = value as InstanceRecord;
  if (record.id !== expectedId) return { ok: false, detail: `id ${record.id} does not match the file name` };
  return { ok: true, value: record };
}
