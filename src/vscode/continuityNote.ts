/**
 * What a transcript (a chat thread, a Run Prompt document) says when a conversation did not simply
 * go on where it was: its session moved to another agent process, or its earlier context is gone.
 * Pure: no `vscode` import.
 */
import type { SessionContinuity } from '../core/conversations/conversation';
import type { PoolEvent } from '../core/pool/events';

type ConversationEvent = Extract<PoolEvent, { type: 'conversation' }>;

/** Markdown for the note, or undefined when the turn kept (or started) its session. */
export function continuityNote(change: SessionContinuity | 'turn' | 'closed', agentId: string | undefined, reason?: string): string | undefined {
  const where = agentId ? ` on ${agentId}` : '';
  switch (change) {
    case 'resumed':
      return `*This conversation continues${where}: the agent that held it had gone, so its session was resumed there with the earlier context.*`;
    case 'loaded':
      return `*This conversation continues${where}: the agent that held it had gone, so its session was loaded there with the earlier context.*`;
    case 'context-lost':
      return `**The earlier context of this conversation is gone**${reason ? `: ${reason}` : ''}. It continues${where} in a new session that does not know what was said before.`;
    default:
      return undefined;
  }
}

/** The note for a pool event about conversation `key`, if that event calls for one. */
export function noteForEvent(event: PoolEvent, key: string): string | undefined {
  if (event.type !== 'conversation' || event.key !== key) return undefined;
  const conversation = (event as ConversationEvent).conversation;
  return continuityNote(event.change, conversation.agentId, event.reason);
}
