import * as os from 'node:os';
import { systemClock, type Clock } from '../common/clock';
import { AgentPoolError } from '../common/errors';
import { consoleLogger, type CoreLogger } from '../common/logger';
import { nodeFileSystem, type FileSystem } from '../directory/privateFiles';

export interface FileInstanceRegistryOptions {
  /** The registry directory (setting `agentPool.registryDirectory`, see ./paths.ts for the default). */
  directory: string;
  clock?: Clock;
  log?: CoreLogger;
  fs?: FileSystem;
  hostname?: string;
  /** `agentPool.heartbeatIntervalMs`. Default 2000. */
  heartbeatIntervalMs?: number;
  /** A window whose heartbeat has not moved this long (reader's monotonic clock) is unresponsive. Default 15000. */
  unresponsiveAfterMs?: number;
  /** How often the directory is re-read and dead windows reclaimed, whatever the watcher says. Default 2000. */
  sweepIntervalMs?: number;
  /** File events closer than this become one re-read. Default 50. */
  debounceMs?: number;
  /** Explicit cleanup removes records with no proof either way older than this. Default 1 h. */
  staleAfterMs?: number;
  /** Remove dead windows' records, slots and agents on every sweep. Default true. */
  reclaimDead?: boolean;
  /** Kill agent processes of dead windows (only while their start time matches). Default true. */
  killOrphans?: boolean;
  /** False: poll only. Default true. */
  useFsWatch?: boolean;
  /**
   * One window per process, as in VS Code (one extension host per window): registering removes
   * records left by an earlier registry in this same process, so a reloaded window leaves no ghost.
   * Tests that run several windows in one process turn it off. Default true.
   */
  oneWindowPerProcess?: boolean;
}

export type ResolvedRegistryOptions = Required<FileInstanceRegistryOptions>;

const DEFAULTS = {
  heartbeatIntervalMs: 2_000,
  unresponsiveAfterMs: 15_000,
  sweepIntervalMs: 2_000,
  debounceMs: 50,
  staleAfterMs: 3_600_000,
};

const KNOWN_KEYS = new Set([
  'directory',
  'clock',
  'log',
  'fs',
  'hostname',
  'reclaimDead',
  'killOrphans',
  'useFsWatch',
  'oneWindowPerProcess',
  ...Object.keys(DEFAULTS),
]);

export function resolveRegistryOptions(options: FileInstanceRegistryOptions): ResolvedRegistryOptions {
  for (const key of Object.keys(options)) if (!KNOWN_KEYS.has(key)) invalid(`unknown option "${key}"`);
  if (typeof options.directory !== 'string' || options.directory.trim() === '') {
    invalid('directory must be a non-empty path (setting agentPool.registryDirectory)');
  }
  return {
    directory: options.directory,
    clock: options.clock ?? systemClock,
    log: options.log ?? consoleLogger,
    fs: options.fs ?? nodeFileSystem,
    hostname: options.hostname ?? os.hostname(),
    heartbeatIntervalMs: wholeNumber('heartbeatIntervalMs (setting agentPool.heartbeatIntervalMs)', options.heartbeatIntervalMs ?? DEFAULTS.heartbeatIntervalMs, 10, 60_000),
    unresponsiveAfterMs: wholeNumber('unresponsiveAfterMs', options.unresponsiveAfterMs ?? DEFAULTS.unresponsiveAfterMs, 1, 86_400_000),
    sweepIntervalMs: wholeNumber('sweepIntervalMs', options.sweepIntervalMs ?? DEFAULTS.sweepIntervalMs, 10, 600_000),
    debounceMs: wholeNumber('debounceMs', options.debounceMs ?? DEFAULTS.debounceMs, 0, 10_000),
    staleAfterMs: wholeNumber('staleAfterMs', options.staleAfterMs ?? DEFAULTS.staleAfterMs, 0, 365 * 86_400_000),
    reclaimDead: options.reclaimDead ?? true,
    killOrphans: options.killOrphans ?? true,
    useFsWatch: options.useFsWatch ?? true,
    oneWindowPerProcess: options.oneWindowPerProcess ?? true,
  };
}

function wholeNumber(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    invalid(`${name} must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value as number;
}

function invalid(message: string): never {
  throw new AgentPoolError('INVALID_OPTIONS', `FileInstanceRegistry: ${message}`);
}
