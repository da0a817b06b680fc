/**
 * The Conversations section of the Agents view: one row per conversation, short ("15k/200k", or
 * "context lost · 15k/200k"), everything else in its tooltip. Pure: no `vscode` import.
 */
import { formatContextUse, formatCostUsd, formatTokens } from '../core/conversations/conversation';
import type { KeyedMetrics } from '../core/metrics/snapshot';
import type { ConversationView } from '../core/service/conversations';
import { formatDuration, plural } from './statusModel';

/** What the section needs: the conversations, their titles, and the per-session latency if measured here. */
export interface ConversationRows {
  conversations: readonly ConversationView[];
  /** Titles people gave (the first prompt of a chat thread or a Run Prompt conversation), by key. */
  titles?: ReadonlyMap<string, string>;
  sessions?: readonly KeyedMetrics[];
  wallNow: number;
}

/** "15k/200k": context in use against the window, for a row; undefined when the agent reported neither. */
export function shortContextUse(usage: ConversationView['usage']): string | undefined {
  if (usage.contextUsed === undefined) return undefined;
  return usage.contextSize ? `${formatTokens(usage.contextUsed)}/${formatTokens(usage.contextSize)}` : `${formatTokens(usage.contextUsed)} tokens`;
}

export function conversationSection(rows: ConversationRows): TreeNodeShape | undefined {
  if (rows.conversations.length === 0) return undefined;
  const lost = rows.conversations.filter((c) => c.contextLost > 0).length;
  return {
    id: 'section/conversations',
    label: 'Conversations',
    icon: { id: 'comment-discussion' },
    description: [String(rows.conversations.length), lost > 0 ? `${lost} lost context` : undefined].filter(Boolean).join(' · '),
    expanded: true,
    children: rows.conversations.map((conversation) => conversationNode(conversation, rows)),
  };
}

/** The TreeNode fields this file fills (treeModel's TreeNode has them all; importing it would make a circle). */
export interface TreeNodeShape {
  id: string;
  label: string;
  description?: string;
  tooltip?: string;
  icon?: { id: string; color?: string };
  contextValue?: string;
  expanded?: boolean;
  children?: TreeNodeShape[];
  profile?: string;
  agentId?: string;
  conversationKey?: string;
}

function conversationNode(conversation: ConversationView, rows: ConversationRows): TreeNodeShape {
  const title = rows.titles?.get(conversation.key);
  const context = shortContextUse(conversation.usage);
  const lost = conversation.contextLost > 0;
  const session = rows.sessions?.find((s) => s.key === conversation.key && s.profile === conversation.profile);
  const usage = conversation.usage;
  return {
    id: `conversation/${conversation.key}`,
    label: shorten(title ?? conversation.key, 36),
    description: [lost ? 'context lost' : undefined, context ?? plural(conversation.turns, 'turn')].filter(Boolean).join(' · '),
    tooltip: [
      title ? `${title}\n(conversation "${conversation.key}")` : `Conversation "${conversation.key}"`,
      `Profile: ${conversation.profile}${conversation.agentId ? `, on ${conversation.agentId} in this window` : conversation.here ? '' : ', no agent holds it now (the next turn resumes its session)'}`,
      `Turns: ${conversation.turns}`,
      `Context: ${formatContextUse(usage) ?? 'not reported by the agent'}`,
      `Tokens: ${formatTokens(usage.inputTokens)} in, ${formatTokens(usage.outputTokens)} out`,
      usage.costUsd > 0 ? `Cost: ${formatCostUsd(usage.costUsd)}` : undefined,
      session && session.prompts.completionMs.count > 0 ? `Time to answer (p95): ${formatDuration(session.prompts.completionMs.p95)}` : undefined,
      lost
        ? `Earlier context lost ${plural(conversation.contextLost, 'time')}${conversation.contextLostReason ? `: ${conversation.contextLostReason}` : ''}. The agent no longer knows what was said before.`
        : undefined,
      conversation.sessionId ? `Session: ${conversation.sessionId}` : undefined,
      `Last used ${new Date(conversation.lastUsedAt).toLocaleString()} in ${conversation.owner.label || conversation.owner.instanceId}`,
      'Close Conversation (right-click) ends its agent session.',
    ]
      .filter(Boolean)
      .join('\n'),
    icon: lost ? { id: 'warning', color: 'list.warningForeground' } : { id: conversation.agentId ? 'comment-discussion' : 'comment' },
    contextValue: lost ? 'conversation.lost' : 'conversation',
    profile: conversation.profile,
    agentId: conversation.agentId,
    conversationKey: conversation.key,
  };
}

function shorten(text: string, max: number): string {
  const line = text.split('\n')[0];
  return line.length > max ? `${line.slice(0, max - 1)}…` : line;
}
