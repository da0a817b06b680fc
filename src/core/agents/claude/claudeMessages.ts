import type { AgentStreamEvent, StopReason, TokenUsage } from '../adapter';

/**
 * Claude Code's stream-json output, shared by the long-lived adapter (`--input-format stream-json`)
 * and the one-shot `claude -p --output-format stream-json` dialect. Only the fields we use are typed.
 */
export interface ClaudeMessage {
  type: string;
  subtype?: string;
  session_id?: string;
  message?: { content?: unknown };
  is_error?: boolean;
  result?: string;
  usage?: { input_tokens?: number; output_tokens?: number };
  total_cost_usd?: number;
  request_id?: string;
  request?: { subtype?: string; tool_name?: string; input?: unknown; tool_use_id?: string };
  response?: { subtype?: string; request_id?: string; error?: string };
}

export interface ClaudeTurnEnd {
  /** The reason when the turn ended normally; undefined when the result is an error. */
  stopReason: StopReason | undefined;
  errorText: string | undefined;
  usage: TokenUsage | undefined;
  /** Cumulative per process: the per-turn cost is the difference from the previous result. */
  totalCostUsd: number | undefined;
}

/** The events one `assistant` message carries: text, thinking and tool calls, in order. */
export function assistantEvents(message: ClaudeMessage): AgentStreamEvent[] {
  const content = message.message?.content;
  if (!Array.isArray(content)) return [];
  const events: AgentStreamEvent[] = [];
  for (const block of content as Array<Record<string, unknown>>) {
    if (block.type === 'text' && typeof block.text === 'string') events.push({ kind: 'text', text: block.text, raw: block });
    else if (block.type === 'thinking' && typeof block.thinking === 'string') events.push({ kind: 'thought', text: block.thinking, raw: block });
    else if (block.type === 'tool_use') events.push({ kind: 'tool-call', text: typeof block.name === 'string' ? block.name : undefined, raw: block });
  }
  return events;
}

/** Interprets a `result` message: success, max turns, or an error whose text explains it. */
export function turnEndOf(message: ClaudeMessage): ClaudeTurnEnd {
  const usage = message.usage ? { inputTokens: message.usage.input_tokens, outputTokens: message.usage.output_tokens } : undefined;
  const base = { usage, totalCostUsd: message.total_cost_usd };
  if (message.subtype === 'error_max_turns') return { ...base, stopReason: 'max_turn_requests', errorText: undefined };
  if (message.is_error || (message.subtype !== undefined && message.subtype !== 'success')) {
    return { ...base, stopReason: undefined, errorText: message.result ?? message.subtype ?? 'error' };
  }
  return { ...base, stopReason: 'end_turn', errorText: undefined };
}

/** Claude's tool names, mapped to the ACP tool kinds the permission policies reason about. */
export function toolKindOf(toolName: string | undefined): string {
  switch (toolName) {
    case 'Read':
    case 'NotebookRead':
      return 'read';
    case 'Glob':
    case 'Grep':
    case 'LS':
    case 'WebSearch':
      return 'search';
    case 'WebFetch':
      return 'fetch';
    case 'Edit':
    case 'MultiEdit':
    case 'Write':
    case 'NotebookEdit':
      return 'edit';
    case 'Bash':
      return 'execute';
    default:
      return 'other';
  }
}

/** Splits a byte stream into lines, keeping the unfinished tail for the next chunk. */
export class LineSplitter {
  private tail = '';

  push(chunk: Buffer | string, onLine: (line: string) => void): void {
    const text = this.tail + chunk.toString();
    let start = 0;
    for (let newline = text.indexOf('\n'); newline !== -1; newline = text.indexOf('\n', start)) {
      const line = text.slice(start, newline).trim();
      if (line) onLine(line);
      start = newline + 1;
    }
    this.tail = text.slice(start);
  }

  flush(onLine: (line: string) => void): void {
    const line = this.tail.trim();
    this.tail = '';
    if (line) onLine(line);
  }
}

export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
