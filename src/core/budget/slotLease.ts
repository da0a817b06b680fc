import { randomBytes } from 'node:crypto';
import { z } from 'zod';

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
}

const leaseSchema = z.object({
  schema: z.literal(1),
  nonce: z.string().regex(/^[0-9a-f]{16,64}$/),
  ownerPid: z.number().int().positive(),
  ownerStartTime: z.string().min(1),
  hostname: z.string(),
  windowId: z.string().min(1),
  label: z.string(),
  acquiredAt: z.number(),
  childPid: z.number().int().positive().optional(),
  childStartTime: z.string().min(1).optional(),
});

export function validateLease(value: unknown): { ok: true; value: SlotLease } | { ok: false; detail: string } {
  const parsed = leaseSchema.safeParse(value);
  if (parsed.success) return { ok: true, value: parsed.data as SlotLease };
  return { ok: false, detail: parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ') };
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
