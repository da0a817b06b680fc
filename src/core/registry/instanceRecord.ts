import { randomBytes } from 'node:crypto';
import { listOf, literal, number, oneOf, optional, shapeProblems, text } from '../common/shape';
import { INSTANCE_ID_PATTERN } from '../directory/layout';
import type { InstanceRecord } from './types';

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
  pid: number({ integer: true, min: 1 }),
  processStartTime: text({ minLength: 1 }),
  hostname: text(),
  workspaceName: text(),
  workspaceFolders: listOf(text()),
  extensionVersion: text(),
  startedAt: number(),
  lifecycle: oneOf(['ACTIVE', 'IDLE', 'COMPLETING']),
  heartbeatSeq: number({ integer: true, min: 0 }),
  heartbeatAt: number(),
  address: optional(text()),
};

/** Validates a parsed record; `expectedId` is the id its file name claims. */
export function validateRecord(value: unknown, expectedId: string): { ok: true; value: InstanceRecord } | { ok: false; detail: string } {
  const problems = shapeProblems(value, RECORD_FIELDS);
  if (problems) return { ok: false, detail: problems };
  const record = value as InstanceRecord;
  if (record.id !== expectedId) return { ok: false, detail: `id ${record.id} does not match the file name` };
  return { ok: true, value: record };
}
