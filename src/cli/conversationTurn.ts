import { AgentPoolError } from '../core/common/errors';
import { errorCode } from '../core/pool/errors';

export interface TurnWaitOptions {
  signal: AbortSignal;
  /** Give up after this long (exit 3); wait as long as the running turn takes when omitted. */
  waitMs?: number;
  /** Called once, when the conversation is first found busy: the line that says this prompt waits. */
  onQueued: () => Promise<void> | void;
  /** How often to look again; the record's lock is a directory, so there is nothing to watch. */
  pollMs?: number;
}

/**
 * Runs `attempt` (one turn of a conversation, holding its record's lock) and, while another window
 * or process is running a turn of that conversation (CONVERSATION_BUSY), waits for that turn to end
 * and tries again. The lock makes the turns one after another, never interleaved in the session.
 */
export async function whenConversationFree<T>(key: string, attempt: () => Promise<T>, options: TurnWaitOptions): Promise<T> {
  const startedAt = performance.now();
  let queued = false;
  for (;;) {
    try {
      return await attempt();
    } catch (error) {
      if (errorCode(error) !== 'CONVERSATION_BUSY') throw error;
      if (!queued) {
        queued = true;
        await options.onQueued();
      }
      if (options.waitMs !== undefined && performance.now() - startedAt >= options.waitMs) {
        throw new AgentPoolError(
          'CONVERSATION_WAIT_TIMEOUT',
          `Conversation "${key}" was still running a turn elsewhere after ${Math.round(options.waitMs / 1000)} s of waiting. Wait longer with --wait <duration>, or use another --session name.`,
          { cause: error },
        );
      }
      await sleep(options.pollMs ?? 200, options.signal);
      if (options.signal.aborted) throw new AgentPoolError('CLI_CANCELLED', 'cancelled');
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
