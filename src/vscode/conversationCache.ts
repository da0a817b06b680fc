/**
 * The conversations the tree shows, read from the registry directory's records (every window's and
 * the CLI's) whenever this window's conversations change, and on Refresh. The tree builds
 * synchronously from the last list; a read never overlaps another, and one asked for during a read
 * runs right after it, so the list is never older than the last change. No `vscode` import.
 */
import { errorMessage } from '../core/common/errors';
import type { ConversationView } from '../core/service/conversations';

export class ConversationCache {
  private list: readonly ConversationView[] = [];
  private reading: Promise<void> | undefined;
  private again = false;
  private disposed = false;

  constructor(
    private readonly read: () => Promise<ConversationView[]>,
    private readonly onDidRead: () => void,
    private readonly log: (message: string) => void,
  ) {}

  get current(): readonly ConversationView[] {
    return this.list;
  }

  /** Reads the records again (coalesced); resolves once a read that started after this call ended. */
  refresh(): Promise<void> {
    if (this.reading) {
      // The running read loops once more, so the list it ends with is at least as new as this call.
      this.again = true;
      return this.reading;
    }
    this.reading = (async () => {
      do {
        this.again = false;
        try {
          const next = await this.read();
          if (this.disposed) return;
          const changed = JSON.stringify(next) !== JSON.stringify(this.list);
          this.list = next;
          if (changed) this.onDidRead();
        } catch (error) {
          this.log(`reading the conversations failed (the next change tries again): ${errorMessage(error)}`);
        }
      } while (this.again && !this.disposed);
    })().finally(() => (this.reading = undefined));
    return this.reading;
  }

  dispose(): void {
    this.disposed = true;
  }
}
