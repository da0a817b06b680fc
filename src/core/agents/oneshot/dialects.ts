import type { AgentStreamEvent, StopReason, TokenUsage } from '../adapter';
import { assistantEvents, turnEndOf, type ClaudeMessage } from '../claude/claudeMessages';
import type { JsonLinesDialect } from '../profiles';

/** What one line of a one-shot agent's output means for the turn. */
export interface LineMeaning {
  events?: AgentStreamEvent[];
  /** The turn's end as the agent reported it. */
  end?: { stopReason: StopReason; usage?: TokenUsage };
  /** An error the agent reported (the turn fails with it unless a success follows). */
  error?: string;
}

type Json = Record<string, unknown>;

function text(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

/** `codex exec --json`: thread.started, turn.started, item.*, turn.completed {usage} | turn.failed | error. */
function codexExec(event: Json): LineMeaning {
  const item = (event.item ?? {}) as Json;
  switch (event.type) {
    case 'item.started':
      return item.type === 'agent_message' || item.type === 'reasoning' ? {} : { events: [{ kind: 'tool-call', text: text(item.command) ?? text(item.type), raw: event }] };
    case 'item.completed':
      if (item.type === 'agent_message') return { events: [{ kind: 'text', text: text(item.text) ?? '', raw: event }] };
      if (item.type === 'reasoning') return { events: [{ kind: 'thought', text: text(item.text), raw: event }] };
      if (item.type === 'todo_list') return { events: [{ kind: 'plan', raw: event }] };
      if (item.type === 'error') return { error: text(item.message) ?? 'error' };
      return { events: [{ kind: 'tool-call-update', text: text(item.type), raw: event }] };
    case 'turn.completed': {
      const usage = (event.usage ?? {}) as Json;
      return { end: { stopReason: 'end_turn', usage: { inputTokens: usage.input_tokens as number | undefined, outputTokens: usage.output_tokens as number | undefined } } };
    }
    case 'turn.failed':
      return { error: text(((event.error ?? {}) as Json).message) ?? 'turn failed' };
    case 'error':
      return { error: text(event.message) ?? 'error' };
    default:
      return { events: [{ kind: 'other', raw: event }] };
  }
}

/** `gemini -p … -o stream-json`: init, message, tool_use, tool_result, error, result {status, stats}. */
function gemini(event: Json): LineMeaning {
  switch (event.type) {
    case 'message':
      return event.role === 'assistant' ? { events: [{ kind: 'text', text: text(event.content) ?? '', raw: event }] } : {};
    case 'tool_use':
      return { events: [{ kind: 'tool-call', text: text(event.tool_name), raw: event }] };
    case 'tool_result':
      return { events: [{ kind: 'tool-call-update', text: text(event.status), raw: event }] };
    case 'error':
      return event.severity === 'warning' ? { events: [{ kind: 'other', raw: event }] } : { error: text(event.message) ?? 'error' };
    case 'result': {
      if (event.status !== 'success') return { error: text(((event.error ?? {}) as Json).message) ?? `result status ${String(event.status)}` };
      const stats = (event.stats ?? {}) as Json;
      return { end: { stopReason: 'end_turn', usage: { inputTokens: stats.input_tokens as number | undefined, outputTokens: stats.output_tokens as number | undefined } } };
    }
    default:
      return { events: [{ kind: 'other', raw: event }] };
  }
}

/** `claude -p --output-format stream-json --verbose`: the same messages as the long-lived mode. */
function claudePrint(event: Json): LineMeaning {
  const message = event as unknown as ClaudeMessage;
  if (message.type === 'assistant') return { events: assistantEvents(message) };
  if (message.type === 'result') {
    const end = turnEndOf(message);
    if (!end.stopReason) return { error: end.errorText };
    return { end: { stopReason: end.stopReason, usage: end.usage || end.totalCostUsd !== undefined ? { ...end.usage, costUsd: end.totalCostUsd } : undefined } };
  }
  return message.type === 'system' ? {} : { events: [{ kind: 'other', raw: event }] };
}

export const DIALECTS: Record<JsonLinesDialect, (event: Json) => LineMeaning> = {
  'codex-exec': codexExec,
  gemini,
  'claude-print': claudePrint,
};
