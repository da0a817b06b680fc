import type { AgentStreamEvent } from '../../core/agents/adapter';
import type { PlanEvent, RunEventBody } from './runEvents';

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {};
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function finite(value: unknown): number | null {
  return typeof value === 'number' && Number.isFinite(value) ? value : null;
}

/**
 * One adapter event in the run-event schema. Adapters keep their protocol's payload in `raw`:
 * ACP session updates, Claude content blocks, codex-exec items, gemini stream-json events; the
 * field names differ, so each field is looked up under the names those protocols use.
 */
export function translateAgentEvent(event: AgentStreamEvent): RunEventBody | undefined {
  const raw = fields(event.raw);
  const item = fields(raw.item);
  switch (event.kind) {
    case 'text':
      return event.text ? { type: 'message_chunk', text: event.text } : undefined;
    case 'thought':
      return event.text ? { type: 'thought_chunk', text: event.text } : undefined;
    case 'tool-call':
    case 'tool-call-update':
      return {
        type: event.kind === 'tool-call' ? 'tool_call' : 'tool_call_update',
        toolCallId: text(raw.toolCallId) ?? text(raw.id) ?? text(item.id) ?? text(raw.tool_id),
        title: text(raw.title) ?? (event.kind === 'tool-call' ? text(event.text) : null),
        kind: text(raw.kind) ?? text(item.type),
        status: text(raw.status) ?? text(item.status),
      };
    case 'plan':
      return { type: 'plan', entries: planEntries(raw, item) };
    case 'other':
      if (raw.sessionUpdate === 'usage_update') {
        const cost = fields(raw.cost);
        return {
          type: 'usage',
          contextUsed: finite(raw.used),
          contextSize: finite(raw.size),
          sessionCostUsd: cost.currency === 'USD' ? finite(cost.amount) : null,
        };
      }
      return { type: 'other', name: text(raw.sessionUpdate) ?? text(raw.type), raw: event.raw ?? event.text ?? null };
  }
}

/** ACP `plan.entries` ({content, priority, status}) or codex's `todo_list` items ({text, completed}). */
function planEntries(raw: Fields, item: Fields): PlanEvent['entries'] {
  if (Array.isArray(raw.entries)) {
    return raw.entries.map((entry) => {
      const e = fields(entry);
      return { content: text(e.content) ?? '', priority: text(e.priority), status: text(e.status) };
    });
  }
  if (Array.isArray(item.items)) {
    return item.items.map((entry) => {
      const e = fields(entry);
      return { content: text(e.text) ?? '', priority: null, status: e.completed === true ? 'completed' : 'pending' };
    });
  }
  return [];
}
