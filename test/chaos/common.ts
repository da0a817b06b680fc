import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Actor } from './actorProcess';

export type Scale = 'small' | 'full';

export interface ChaosContext {
  scale: Scale;
  base: string;
  /** Progress for people watching: stderr, so stdout stays one JSON line. */
  note(message: string): void;
  /** Records a broken invariant; the run exits non-zero. */
  violation(message: string): void;
}

export function phaseDirectory(context: ChaosContext, name: string): { dir: string; markers: string; root: string } {
  const root = path.join(context.base, name);
  const dir = path.join(root, 'registry');
  const markers = path.join(root, 'markers');
  mkdirSync(markers, { recursive: true });
  return { dir, markers, root };
}

export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!);
}

export function summarize(values: number[]) {
  return { n: values.length, p50: percentile(values, 50), p95: percentile(values, 95), max: values.length ? Math.round(Math.max(...values)) : null };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function slotFileNames(dir: string): string[] {
  try {
    return readdirSync(path.join(dir, 'slots')).filter((name) => /^slot-\d+$/.test(name));
  } catch {
    return [];
  }
}

export interface LeaseView {
  slot: string;
  nonce: string;
  ownerPid: number;
}

/** The leases on disk now (unreadable ones skipped: the poller only times reclaims). */
export function readLeases(dir: string): LeaseView[] {
  const leases: LeaseView[] = [];
  for (const slot of slotFileNames(dir)) {
    try {
      const lease = JSON.parse(readFileSync(path.join(dir, 'slots', slot), 'utf8')) as { nonce: string; ownerPid: number };
      leases.push({ slot, nonce: lease.nonce, ownerPid: lease.ownerPid });
    } catch {
      // Released while being read.
    }
  }
  return leases;
}

/** Waits for every actor to exit; resolves with how many exited other than as asked. */
export async function waitForExits(actors: Actor[]): Promise<void> {
  await Promise.all(actors.map((actor) => actor.exited));
}

/** Lines saying a process crashed: an uncaught exception, or an error it did not expect. */
export function crashLines(actors: Actor[]): string[] {
  return actors.flatMap((actor) =>
    actor.lines.filter((line) => line.event === 'crash' || line.event === 'error').map((line) => `${actor.pid}: ${String(line.error).split('\n')[0]}`),
  );
}
