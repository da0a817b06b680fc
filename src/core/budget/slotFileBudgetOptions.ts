import { systemClock, type Clock } from '../common/clock';
import { AgentPoolError } from '../common/errors';
import { consoleLogger, type CoreLogger } from '../common/logger';
import { nodeFileSystem, type FileSystem } from '../directory/privateFiles';
import type { SlotFaultPoint } from './slotStore';
import * as os from 'node:os';

export interface SlotFileBudgetOptions {
  /** The registry directory (setting `agentPool.registryDirectory`); slots live in `<directory>/slots`. */
  directory: string;
  /** `agentPool.maxAgentsTotal`: agent processes across every window of this user on this machine. */
  maxAgentsTotal: number;
  /** `agentPool.maxAgentsPerWindow`; defaults to maxAgentsTotal. */
  maxAgentsPerWindow?: number;
  /** Shown to other windows as the holder of this budget's slots (the registry's instance id). */
  windowId: string;
  clock?: Clock;
  log?: CoreLogger;
  fs?: FileSystem;
  hostname?: string;
  /** How often abandoned slots are looked for (and the polling fallback for change events). Default 2000. */
  sweepIntervalMs?: number;
  /** How often a waiting acquisition retries even without a change event. Default 1000. */
  waitPollIntervalMs?: number;
  /** Change events closer than this become one. Default 25. */
  debounceMs?: number;
  /** An unreadable slot file is freed after being seen unchanged this long. Default 10000. */
  badSlotGraceMs?: number;
  /** Kill agent children of windows proven dead so their slots can be freed. Default true. */
  killOrphans?: boolean;
  /** False: learn of changes by polling only. Default true. */
  useFsWatch?: boolean;
  /**
   * The caps other participants of the store declared (their registry records), read inside the
   * cross-window lock before each acquisition; the smallest, this one's own included, is enforced.
   */
  declaredCaps?: () => Promise<number[]>;
  /** For fault tests: called at exact points of taking and reclaiming slots (detail: slot index, witness). */
  faultHook?: (point: SlotFaultPoint, detail: string) => void;
}

export type ResolvedSlotFileBudgetOptions = Required<Omit<SlotFileBudgetOptions, 'faultHook'>> & Pick<SlotFileBudgetOptions, 'faultHook'>;

const noDeclaredCaps = async (): Promise<number[]> => [];

const KNOWN_KEYS = new Set<string>([
  'directory',
  'maxAgentsTotal',
  'maxAgentsPerWindow',
  'windowId',
  'clock',
  'log',
  'fs',
  'hostname',
  'sweepIntervalMs',
  'waitPollIntervalMs',
  'debounceMs',
  'badSlotGraceMs',
  'killOrphans',
  'useFsWatch',
  'faultHook',
  'declaredCaps',
]);

/** Checks every option up front and names the bad one (house style: tarn's validation). */
export function resolveSlotFileBudgetOptions(options: SlotFileBudgetOptions): ResolvedSlotFileBudgetOptions {
  for (const key of Object.keys(options)) {
    if (!KNOWN_KEYS.has(key)) invalid(`unknown option "${key}"`);
  }
  if (typeof options.directory !== 'string' || options.directory.trim() === '') {
    invalid('directory must be a non-empty path (setting agentPool.registryDirectory)');
  }
  if (typeof options.windowId !== 'string' || options.windowId === '') invalid('windowId must be a non-empty string');
  const maxAgentsTotal = wholeNumber('maxAgentsTotal (setting agentPool.maxAgentsTotal)', options.maxAgentsTotal, 1, 4096);
  const maxAgentsPerWindow = wholeNumber(
    'maxAgentsPerWindow (setting agentPool.maxAgentsPerWindow)',
    options.maxAgentsPerWindow ?? maxAgentsTotal,
    1,
    4096,
  );
  return {
    directory: options.directory,
    maxAgentsTotal,
    maxAgentsPerWindow,
    windowId: options.windowId,
    clock: options.clock ?? systemClock,
    log: options.log ?? consoleLogger,
    fs: options.fs ?? nodeFileSystem,
    hostname: options.hostname ?? os.hostname(),
    sweepIntervalMs: wholeNumber('sweepIntervalMs', options.sweepIntervalMs ?? 2000, 10, 600_000),
    waitPollIntervalMs: wholeNumber('waitPollIntervalMs', options.waitPollIntervalMs ?? 1000, 10, 600_000),
    debounceMs: wholeNumber('debounceMs', options.debounceMs ?? 25, 0, 10_000),
    badSlotGraceMs: wholeNumber('badSlotGraceMs', options.badSlotGraceMs ?? 10_000, 0, 86_400_000),
    killOrphans: options.killOrphans ?? true,
    useFsWatch: options.useFsWatch ?? true,
    faultHook: options.faultHook,
    declaredCaps: options.declaredCaps ?? noDeclaredCaps,
  };
}

function wholeNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function invalid(message: string): never {
  throw new AgentPoolError('INVALID_OPTIONS', `SlotFileBudget: ${message}`);
}
