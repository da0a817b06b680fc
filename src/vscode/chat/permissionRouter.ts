import type { PermissionHandler, PermissionRequest } from '../../core/agents/adapter';

/** A chat turn that can ask its own permission questions in its thread. */
export interface PermissionAsker {
  /** Undefined while the pool routes automatically and has not picked one yet. */
  profile?: string;
  /** The agent session of the thread's conversation, once a turn has told us. */
  sessionId?: string;
  ask(request: PermissionRequest, signal: AbortSignal): Promise<{ optionId?: string }>;
}

/**
 * Sends an agent's permission request to the chat turn it belongs to, as a confirmation in that
 * thread; anything else (Run Prompt, other extensions' runs, a request we cannot place) gets the
 * fallback, the modal dialog. A request is placed by its agent session, or, for a thread's first turn
 * whose session is not known yet, by its profile when exactly one such turn is running.
 */
export class PermissionRouter {
  private readonly askers = new Set<PermissionAsker>();

  constructor(private readonly fallback: PermissionHandler) {}

  readonly handle: PermissionHandler = (request, signal) => this.askerFor(request)?.ask(request, signal) ?? this.fallback(request, signal);

  /** While the returned function has not been called, `asker` answers its thread's requests. */
  add(asker: PermissionAsker): () => void {
    this.askers.add(asker);
    return () => this.askers.delete(asker);
  }

  private askerFor(request: PermissionRequest): PermissionAsker | undefined {
    const bySession = [...this.askers].find((asker) => asker.sessionId === request.sessionId);
    if (bySession) return bySession;
    const unplaced = [...this.askers].filter((asker) => asker.sessionId === undefined && (asker.profile ?? request.profile) === request.profile);
    return unplaced.length === 1 ? unplaced[0] : undefined;
  }
}
