import { randomBytes } from 'node:crypto';
import { literal, optional, pidNumber, shapeProblems, text, wallTime } from '../common/shape';

/**
 * The content of one slot file: who holds the slot (the owning process, its window) and, once
 * spawned, which agent child it is for. Owner and child are named by pid plus start time, so a
 * reused pid never keeps a slot alive or lets a live one be taken.
 */
export interface SlotLease {
  schema: 1;
  nonce: string;
  ownerPid: number;
  ownerStartTime: string;
  hostname: string;
  windowId: string;
  label: string;
  /** Wall-clock ms, for display only. */
  acquiredAt: number;
  childPid?: number;
  childStartTime?: string;
  /** The agent's spawn token (see process/identity.ts): the proof needed before it is killed on this lease's word. */
  childSpawnToken?: string;
}

const LEASE_FIELDS = {
  schema: literal(1),
  nonce: text({ pattern: /^[0-9a-f]{16,64}$/ }),
  ownerPid: pidNumber(),
  ownerStartTime: text({ minLength: 1 }),
  hostname: text(),
  windowId: text({ minLength: 1 }),
  label: text(),
  acquiredAt: wallTime(),
  childPid: optional(pidNumber()),
  childStartTime: optional(text({ minLength: 1 })),
  childSpawnToken: optional(text({ pattern: /^[0-9a-f]{24}$/ })),
};

export function validateLease(value: unknown): { ok: true; value: SlotLease } | { ok: false; detail: string } {
  const problems = shapeProblems(value, LEASE_FIELDS);
  return problems ? { ok: false, detail: problems } : { ok: true, value: value as SlotLease };
}

export function newNonce(): string {
  return randomBytes(8).toString('hex');
}

export const SLOT_FILE_PATTERN = /^slot-(\d{1,4})$/;
/** `tomb-<slot>-<witness>-<generation>`: a reclaimer's exclusive claim on one doomed lease. */
export const TOMB_FILE_PATTERN = /^tomb-(\d{1,4})-([0-9a-z]+)-(\d{1,3})$/;

export function slotFileName(index: number): string {
  return `slot-${index}`;
}

export function tombFileName(index: number, witness: string, generation: number): string {
  return `tomb-${index}-${witness}-${generation}`;
}
