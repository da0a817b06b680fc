import type { TranscriptContextLost, TranscriptEntry, TranscriptTurn } from '../../core/conversations/transcriptEntry';
import type { TranscriptRead } from '../../core/conversations/transcriptStore';
import { formatDuration } from '../../core/metrics/formats';

/** What the export says of the conversation: `conversations show --json`'s object (ConversationJson) fits it. */
export interface ExportedConversation {
  name: string;
  profile: string;
  agent: { sessionId: string | null };
  turns: number;
  usage: { costUsd: number; inputTokens: number; outputTokens: number };
  createdAt: string;
  lastUsedAt: string;
}

export const EXPORT_FORMATS = ['markdown', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/** `conversations export --format json`, version 1: fields are only added within a version. */
export const EXPORT_VERSION = 1;

type Iso<T, K extends keyof T> = Omit<T, K | 'schema' | 'v' | 'key'> & { [P in K]: string };
export type ExportedTurn = Iso<TranscriptTurn, 'at' | 'endedAt'>;
export type ExportedContextLost = Iso<TranscriptContextLost, 'at'>;

export interface ConversationExport<C extends ExportedConversation = ExportedConversation> {
  v: typeof EXPORT_VERSION;
  /** The record, as `conversations show --json` prints it. */
  conversation: C;
  /** True when the oldest turns were rotated out (the transcript keeps about the last 4 MiB). */
  truncated: boolean;
  /** Oldest first: `turn` and `context-lost` entries. */
  entries: Array<ExportedTurn | ExportedContextLost>;
}

const iso = (ms: number) => new Date(ms).toISOString();

export function exportJson<C extends ExportedConversation>(conversation: C, transcript: TranscriptRead): ConversationExport<C> {
  const entries = transcript.entries.map((entry): ExportedTurn | ExportedContextLost => {
    const { schema: _schema, v: _v, key: _key, ...rest } = entry;
    return rest.type === 'turn' ? { ...rest, at: iso(rest.at), endedAt: iso(rest.endedAt) } : { ...rest, at: iso(rest.at) };
  });
  return { v: EXPORT_VERSION, conversation, truncated: transcript.truncated, entries };
}

/**
 * The transcript for people: one section per turn, the prompt in a fence (it is what was typed,
 * not Markdown to render), the answer as the agent wrote it (agents answer in Markdown), and a
 * quoted line where the context was lost, so nobody reads the turns after it as remembered.
 */
export function exportMarkdown(conversation: ExportedConversation, transcript: TranscriptRead): string {
  const usage = conversation.usage;
  const lines = [
    `# Conversation "${conversation.name}"`,
    '',
    [
      `Profile \`${conversation.profile}\``,
      `${conversation.turns} turn${conversation.turns === 1 ? '' : 's'}`,
      `session \`${conversation.agent.sessionId ?? 'none yet'}\``,
      `${usage.inputTokens} in / ${usage.outputTokens} out tokens`,
      usage.costUsd > 0 ? `$${usage.costUsd.toFixed(4)}` : undefined,
      `created ${conversation.createdAt}`,
      `last used ${conversation.lastUsedAt}`,
    ]
      .filter(Boolean)
      .join(' · '),
    '',
  ];
  if (transcript.truncated) lines.push('> The earliest turns are not in this transcript: it keeps about the last 4 MiB of turns.', '');
  if (transcript.entries.length === 0) lines.push('_No turn has been recorded yet._', '');
  for (const entry of transcript.entries) lines.push(...markdownEntry(entry), '');
  return `${lines.join('\n').trimEnd()}\n`;
}

function markdownEntry(entry: TranscriptEntry): string[] {
  if (entry.type === 'context-lost') {
    return [`> **Context lost** (${iso(entry.at)}): ${entry.reason}. The conversation continued in a new session \`${entry.sessionId ?? '?'}\` on ${entry.agent}; the agent does not know the turns above.`];
  }
  const heading = `## ${entry.turn === null ? 'Failed turn' : `Turn ${entry.turn}`} · ${entry.agent} · ${iso(entry.at)} · ${formatDuration(entry.endedAt - entry.at)}`;
  const lines = [heading, '', '**Prompt**', '', ...fenced(entry.prompt), ''];
  if (entry.thoughts) lines.push('<details><summary>Thoughts</summary>', '', ...fenced(entry.thoughts), '', '</details>', '');
  if (entry.toolCalls.length) {
    lines.push('**Tool calls**', '');
    for (const call of entry.toolCalls) lines.push(`- ${call.title ?? call.id ?? 'untitled'}${call.kind ? ` (${call.kind})` : ''}${call.status ? `: ${call.status}` : ''}`);
    if (entry.moreToolCalls) lines.push(`- … and ${entry.moreToolCalls} more`);
    lines.push('');
  }
  if (entry.error !== null) lines.push(`**Failed**: ${entry.error}`);
  else lines.push('**Answer**', '', entry.answer.trim() === '' ? '_(no text)_' : entry.answer.trimEnd());
  lines.push('', `_${footer(entry)}_`);
  return lines;
}

function footer(entry: TranscriptTurn): string {
  const usage = entry.usage;
  return [
    entry.stopReason ? `stop reason ${entry.stopReason}` : undefined,
    `session ${entry.sessionId ?? '?'}${entry.continuity && entry.continuity !== 'kept' ? ` (${entry.continuity})` : ''}`,
    usage?.inputTokens !== undefined || usage?.outputTokens !== undefined ? `${usage.inputTokens ?? 0} in / ${usage.outputTokens ?? 0} out tokens` : undefined,
    usage?.costUsd ? `$${usage.costUsd.toFixed(4)}` : undefined,
    entry.cut.length ? `${entry.cut.join(', ')} cut at 64k characters` : undefined,
  ]
    .filter(Boolean)
    .join(' · ');
}

/** A fence longer than any backtick run in `text`, so nothing in it can close the block early. */
function fenced(text: string): string[] {
  const longest = Math.max(0, ...[...text.matchAll(/`+/g)].map((match) => match[0].length));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}text`, text.replace(/\n+$/, ''), fence];
}
