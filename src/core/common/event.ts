/**
 * Events shaped like `vscode.Event`, so the core can publish changes without importing vscode
 * and the adapters can hand them straight to VS Code APIs.
 */
export interface Disposable {
  dispose(): void;
}

export type Event<T> = (listener: (value: T) => void) => Disposable;

export type ListenerErrorHandler = (error: unknown) => void;

/** Owns a set of listeners; a listener that throws never stops the others (house style rule 14). */
export class Emitter<T> implements Disposable {
  private readonly listeners = new Set<(value: T) => void>();
  private disposed = false;

  constructor(private readonly onListenerError: ListenerErrorHandler = defaultListenerError) {}

  readonly event: Event<T> = (listener) => {
    if (this.disposed) return { dispose() {} };
    this.listeners.add(listener);
    return { dispose: () => void this.listeners.delete(listener) };
  };

  fire(value: T): void {
    if (this.listeners.size === 0) return;
    // Deliver to the listeners present when fire() began, even if one (un)subscribes meanwhile. The
    // common single-listener case (several fires per agent turn) skips copying the set.
    if (this.listeners.size === 1) {
      for (const listener of this.listeners) return this.deliver(listener, value);
    }
    for (const listener of [...this.listeners]) this.deliver(listener, value);
  }

  private deliver(listener: (value: T) => void, value: T): void {
    try {
      listener(value);
    } catch (error) {
      this.onListenerError(error);
    }
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  dispose(): void {
    this.disposed = true;
    this.listeners.clear();
  }
}

function defaultListenerError(error: unknown): void {
  console.error('[agent-pool] event listener failed:', error);
}

/** Resolves with the next value of `event` that satisfies `predicate`; rejects after `timeoutMs`. */
export function waitForEvent<T>(
  event: Event<T>,
  predicate: (value: T) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      subscription.dispose();
      reject(new Error(`event not seen within ${timeoutMs} ms`));
    }, timeoutMs);
    const subscription = event((value) => {
      if (!predicate(value)) return;
      clearTimeout(timer);
      subscription.dispose();
      resolve(value);
    });
  });
}
