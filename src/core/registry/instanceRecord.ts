import { randomBytes } from 'node:crypto';
import { listOf, literal, number, oneOf, optional, shapeProblems, text } from '../common/shape';
import type { InstanceRecord } from './types';

/** `YYYYMMDD_HHMMSS_<pid>_<8 hex>`, UTC, so ids sort in registration order whatever the time zone. */
export const INSTANCE_ID_PATTERN = /^\d{8}_\d{6}_\d{1,10}_[0-9a-f]{8}$/;
const RECORD_FILE_PATTERN = /^(\d{8}_\d{6}_\d{1,10}_[0-9a-f]{8})\.json$/;
const METRICS_SUFFIX = '.metrics.json';

export function newInstanceId(wallNowMs: number, pid: number, random: Buffer = randomBytes(4)): string {
  const at = new Date(wallNowMs);
  const pad = (value: number, width = 2) => String(value).padStart(width, '0');
  const date = `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`;
  const time = `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
  return `${date}_${time}_${pid}_${random.toString('hex').slice(0, 8).padStart(8, '0')}`;
}

export type InstanceFileName =
  | { kind: 'record'; id: string }
  /** Files the registry does not own here (metrics snapshots, their temp files, dot files). */
  | { kind: 'other' }
  /** A `.json` file with a name the registry never writes. */
  | { kind: 'unexpected' };

export function classifyInstanceFileName(name: string): InstanceFileName {
  const record = RECORD_FILE_PATTERN.exec(name);
  if (record) return { kind: 'record', id: record[1]! };
  if (name.startsWith('.') || name.endsWith(METRICS_SUFFIX) || !name.endsWith('.json')) return { kind: 'other' };
  return { kind: 'unexpected' };
}

export function recordFileName(id: string): string {
  return `${id}.json`;
}

export function metricsFileName(id: string): string {
  return `${id}${METRICS_SUFFIX}`;
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
