import { watch, type FSWatcher } from 'node:fs';
import type { Clock, TimerHandle } from '../common/clock';
import type { Disposable } from '../common/event';
import { errorMessage } from '../common/errors';
import type { CoreLogger } from '../common/logger';

export interface DirectoryWatcherOptions {
  clock: Clock;
  log: CoreLogger;
  /** Bursts of file events (a rename is two) become one callback after this quiet time. */
  debounceMs: number;
  /** Fallback for file systems without change events (network mounts) and for missed events. */
  pollIntervalMs: number;
  /** False: poll only. */
  useFsWatch: boolean;
}

/**
 * Calls `onChange` soon after anything in `directory` changes: fs.watch for speed, a polling
 * timer for file systems where fs.watch is silent or broken. A watcher that dies (directory
 * removed, inotify limit) is re-created on the next poll, and never throws into the host.
 */
export class DirectoryWatcher implements Disposable {
  private watcher: FSWatcher | undefined;
  private debounceTimer: TimerHandle | undefined;
  private pollTimer: TimerHandle | undefined;
  private disposed = false;
  private watchFailureLogged = false;

  constructor(
    private readonly directory: string,
    private readonly onChange: (reason: 'event' | 'poll') => void,
    private readonly options: DirectoryWatcherOptions,
  ) {}

  start(): void {
    if (this.disposed) return;
    this.ensureWatching();
    this.schedulePoll();
  }

  /** True while fs.watch delivers events; false when only the polling fallback is left. */
  get watching(): boolean {
    return this.watcher !== undefined;
  }

  dispose(): void {
    this.disposed = true;
    this.closeWatcher();
    if (this.debounceTimer) this.options.clock.clearTimeout(this.debounceTimer);
    if (this.pollTimer) this.options.clock.clearTimeout(this.pollTimer);
    this.debounceTimer = undefined;
    this.pollTimer = undefined;
  }

  private ensureWatching(): void {
    if (this.watcher || !this.options.useFsWatch || this.disposed) return;
    try {
      const watcher = watch(this.directory, { persistent: false }, () => this.scheduleDebounced());
      watcher.on('error', (error) => {
        this.logWatchFailure(error);
        this.closeWatcher();
      });
      this.watcher = watcher;
    } catch (error) {
      this.logWatchFailure(error);
    }
  }

  private closeWatcher(): void {
    try {
      this.watcher?.close();
    } catch {
      // Closing a watcher whose directory is gone can throw on some platforms; nothing to do.
    }
    this.watcher = undefined;
  }

  private scheduleDebounced(): void {
    if (this.disposed || this.debounceTimer) return;
    this.debounceTimer = this.options.clock.setTimeout(() => {
      this.debounceTimer = undefined;
      this.emit('event');
    }, this.options.debounceMs);
    this.debounceTimer.unref?.();
  }

  private schedulePoll(): void {
    if (this.disposed) return;
    this.pollTimer = this.options.clock.setTimeout(() => {
      this.pollTimer = undefined;
      this.ensureWatching();
      this.emit('poll');
      this.schedulePoll();
    }, this.options.pollIntervalMs);
    this.pollTimer.unref?.();
  }

  private emit(reason: 'event' | 'poll'): void {
    if (this.disposed) return;
    try {
      this.onChange(reason);
    } catch (error) {
      this.options.log.error(`watching ${this.directory}: ${errorMessage(error)}`);
    }
  }

  private logWatchFailure(error: unknown): void {
    if (this.watchFailureLogged) return;
    this.watchFailureLogged = true;
    this.options.log.warn(`cannot watch ${this.directory} (${errorMessage(error)}); polling every ${this.options.pollIntervalMs} ms instead`);
  }
}
