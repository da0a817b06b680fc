import { AgentPoolError, errorMessage } from '../common/errors';
import { isUnusableDirectoryError, unusableDirectoryMessage } from '../directory/privateFiles';
import { BudgetError, describeHolders, type BudgetHolder, type BudgetSnapshot } from './budget';
import { slotFileName } from './slotLease';
import type { SlotEntry } from './slotStore';

/** What people reading the budget see for each slot file: the window and label, or why it is unreadable. */
export function holdersOf(entries: SlotEntry[]): BudgetHolder[] {
  return entries.map((entry) =>
    entry.kind === 'lease'
      ? {
          windowId: entry.lease.windowId,
          label: entry.lease.label,
          slotId: slotFileName(entry.index),
          ...(entry.lease.childPid !== undefined ? { childPid: entry.lease.childPid } : {}),
        }
      : { windowId: 'unknown (unreadable slot file)', label: entry.badKind, slotId: slotFileName(entry.index) },
  );
}

/** Why the directory cannot hold slots now, naming it and the setting that moves it. */
export function unavailableReasonFor(directory: string, error: unknown): string {
  // The floor already said which directory and why (not a directory, not ours): say it once.
  if (error instanceof AgentPoolError && (error.code === 'REGISTRY_UNAVAILABLE' || error.code === 'REGISTRY_UNSAFE')) return error.message;
  return isUnusableDirectoryError(error)
    ? unusableDirectoryMessage(directory, error)
    : `The Agent Pool budget in ${directory} could not be used: ${errorMessage(error)}. ` +
        'Check that the directory is local, writable and private to you (setting agentPool.registryDirectory).';
}

export function unavailableError(reason: string, cause: unknown): BudgetError {
  return new BudgetError('BUDGET_UNAVAILABLE', `${reason} No agent is started until its slot can be recorded.`, { cause });
}

/** The timeout error: who holds the budget, and which setting to change. */
export function exhaustedError(
  label: string,
  timeoutMs: number,
  snapshot: BudgetSnapshot,
  perWindow: { held: number; max: number },
): BudgetError {
  if (perWindow.held >= perWindow.max) {
    return new BudgetError(
      'BUDGET_EXHAUSTED',
      `No agent slot for ${label} within ${timeoutMs} ms: this window already runs ${perWindow.held} agents, ` +
        `the most agentPool.maxAgentsPerWindow (${perWindow.max}) allows. ` +
        "Stop one of this window's agents, or raise agentPool.maxAgentsPerWindow.",
    );
  }
  const setElsewhere = snapshot.configuredCap !== undefined && snapshot.configuredCap > snapshot.cap;
  const raise = setElsewhere
    ? `The cap of ${snapshot.cap} is the smallest agentPool.maxAgentsTotal of an open window or run (this one's is ${snapshot.configuredCap}): ` +
      'stop an agent, or raise the setting in the window with the smaller cap (or close it).'
    : `Stop an agent in one of those windows, or raise agentPool.maxAgentsTotal (now ${snapshot.cap}).`;
  return new BudgetError('BUDGET_EXHAUSTED', `No agent slot freed within ${timeoutMs} ms for ${label}: ${describeHolders(snapshot)}. ${raise}`);
}
