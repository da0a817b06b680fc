import { errorMessage } from '../common/errors';
import type { ConversationInfo } from '../conversations/conversation';
import { transcriptLines, TurnTally } from '../conversations/transcriptEntry';
import type { TranscriptStore } from '../conversations/transcriptStore';
import type { Lease, LeaseTurnObserver, LeaseTurnWatch } from '../pool/lease';

export interface TranscriptRecorderOptions {
  store: TranscriptStore;
  key: string;
  lease: Lease;
  /** Wall-clock ms. */
  now: () => number;
  /** The conversation as the pool has it now (after a turn ended: counting it). */
  conversation: () => Pick<ConversationInfo, 'turns' | 'sessionId' | 'contextLost' | 'contextLostReason'> | undefined;
  log: (level: 'info' | 'warn', message: string) => void;
}

/**
 * Writes each turn of a conversation's lease to its transcript as the turn ends, in turn order
 * (appends are chained). A transcript that cannot be written is a warning, never a failed turn.
 */
export class TranscriptRecorder implements LeaseTurnObserver {
  private pending: Promise<void> = Promise.resolve();

  constructor(private readonly options: TranscriptRecorderOptions) {}

  turnStarted(prompt: string): LeaseTurnWatch {
    const { key, lease, now } = this.options;
    const startedAt = now();
    const tally = new TurnTally();
    const lostBefore = this.options.conversation()?.contextLost ?? 0;
    return {
      onEvent: (event) => tally.see(event),
      ended: (outcome) => {
        const result = 'result' in outcome ? outcome.result : undefined;
        const conversation = this.options.conversation();
        // A turn that failed after its new session opened says nothing of it: the conversation's count does.
        const lostNow = !result && conversation !== undefined && conversation.contextLost > lostBefore;
        const lines = transcriptLines({
          key,
          profile: lease.profile,
          agent: lease.agentId,
          sessionId: result?.sessionId ?? (lostNow ? conversation.sessionId : lease.sessionId),
          turn: conversation?.turns,
          contextLost: lostNow ? (conversation.contextLostReason ?? 'the agent could not continue the session') : undefined,
          startedAt,
          endedAt: now(),
          prompt,
          tally,
          result,
          error: 'error' in outcome ? errorMessage(outcome.error) : undefined,
        });
        this.pending = this.pending
          .then(() => this.options.store.append(key, lines))
          .catch((error: unknown) => this.options.log('warn', `the transcript of conversation "${key}" could not be written in ${this.options.store.folder}: ${errorMessage(error)}; the turn itself is not affected`));
      },
    };
  }

  /** Resolves once every ended turn is on disk (or was reported as not written). */
  flushed(): Promise<void> {
    return this.pending;
  }
}
