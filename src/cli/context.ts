import type { CleanupReport } from '../core/registry/types';
import type { CliIo } from './io';
import type { VscodeSettings } from './vscodeSettings';

/** What commands need from the outside world; tests and the lead's wiring can replace any part. */
export interface CliDependencies {
  /** Opens the registry for an explicit cleanup (the real FileInstanceRegistry by default). */
  openRegistry(directory: string): Promise<{ cleanup(options: { maxAgeMs?: number }): Promise<CleanupReport>; dispose(): void }>;
  /** Resolves when the user asks a long-running command to stop (Ctrl-C, SIGTERM). */
  untilInterrupted(): Promise<void>;
}

export interface CliContext {
  io: CliIo;
  directory: string;
  deps: CliDependencies;
  /** What VS Code's settings files on this machine say about the settings a run shares with the windows. */
  vscodeSettings?: VscodeSettings;
}

export function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      clearInterval(keepAlive);
      resolve();
    };
    // Signal handlers alone do not keep Node running; the watcher and timers are unref'd on purpose.
    const keepAlive = setInterval(() => undefined, 1 << 30);
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
