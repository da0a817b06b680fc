/**
 * How an agent's stream looks in the Chat view, as plain data: which chat part each event becomes.
 * No `vscode` import, so the mapping is tested in plain mocha; chatParticipant.ts only plays the
 * parts into the response stream.
 *
 * Why these parts: the stable chat API has markdown, progress and buttons. Progress lines fold into
 * the "Completed N steps" block once the answer is done, which is how VS Code's own agents show
 * their steps, but a progress call in the middle of the answer folds the text before it too. So tool
 * calls and thoughts that come before the answer are progress; once text has started they become a
 * quiet markdown line. Plans are a checklist that stays in view; thoughts are a quote.
 */
import type { AgentStreamEvent, StopReason } from '../../core/agents/adapter';

export type ChatPart =
  | { kind: 'markdown'; text: string }
  /** A transient status line ("Reading demo.txt"). */
  | { kind: 'progress'; text: string };

interface PlanEntry {
  content: string;
  status?: string;
}

/** Turns one turn's events into parts, remembering whether the answer has started. */
export class TurnRenderer {
  private answerStarted = false;
  private inThought = false;

  render(event: AgentStreamEvent): ChatPart[] {
    switch (event.kind) {
      case 'text': {
        if (!event.text) return [];
        const lead = this.inThought ? '\n\n' : '';
        this.inThought = false;
        this.answerStarted = true;
        return [{ kind: 'markdown', text: lead + event.text }];
      }
      case 'thought': {
        if (!event.text) return [];
        if (!this.answerStarted && !this.inThought) {
          this.inThought = true;
          return [{ kind: 'progress', text: 'Thinking…' }, { kind: 'markdown', text: `> ${quoted(event.text)}` }];
        }
        const lead = this.inThought ? '' : '\n\n> ';
        this.inThought = true;
        return [{ kind: 'markdown', text: lead + quoted(event.text) }];
      }
      case 'tool-call': {
        const title = event.text || toolKindOf(event.raw) || 'a tool';
        return this.step(`$(tools) ${title}`, title);
      }
      case 'tool-call-update': {
        const status = statusOf(event.raw);
        if (status !== 'failed') return [];
        const title = event.text || 'A tool call';
        return this.step(`$(error) ${title} failed`, `${title} failed`);
      }
      case 'plan': {
        const entries = planEntries(event.raw);
        if (entries.length === 0) return [];
        // A plan is worth seeing: later steps go below it instead of folding it away with the progress lines.
        const lead = this.breakLine();
        this.answerStarted = true;
        const lines = entries.map((entry) => `- ${PLAN_ICONS[entry.status ?? 'pending'] ?? PLAN_ICONS.pending} ${escapeMarkdown(entry.content)}`);
        return [{ kind: 'markdown', text: `${lead}**Plan**\n\n${lines.join('\n')}\n\n` }];
      }
      default:
        return [];
    }
  }

  private step(markdownLine: string, progressText: string): ChatPart[] {
    if (!this.answerStarted) {
      this.inThought = false;
      return [{ kind: 'progress', text: progressText }];
    }
    return [{ kind: 'markdown', text: `${this.breakLine()}*${markdownLine}*\n\n` }];
  }

  private breakLine(): string {
    const lead = this.inThought || this.answerStarted ? '\n\n' : '';
    this.inThought = false;
    return lead;
  }
}

const PLAN_ICONS: Record<string, string> = {
  completed: '$(pass-filled)',
  in_progress: '$(sync)',
  pending: '$(circle-large-outline)',
};

/** What a person reads for each stop reason; undefined when the turn simply ended. */
export function stopReasonText(reason: StopReason | string | undefined): string | undefined {
  switch (reason) {
    case undefined:
    case 'end_turn':
      return undefined;
    case 'cancelled':
      return 'Cancelled.';
    case 'max_tokens':
      return 'The agent stopped: it reached its output limit.';
    case 'max_turn_requests':
      return 'The agent stopped: it reached its limit of model requests for one turn.';
    case 'refusal':
      return 'The agent refused to answer this.';
    default:
      return `The agent stopped (${reason}).`;
  }
}

function quoted(text: string): string {
  return text.replace(/\n/g, '\n> ');
}

function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]<>#|]/g, '\\$&');
}

function record(value: unknown): Record<string, unknown> | undefined {
  return value && typeof value === 'object' ? (value as Record<string, unknown>) : undefined;
}

function statusOf(raw: unknown): string | undefined {
  const status = record(raw)?.status;
  return typeof status === 'string' ? status : undefined;
}

function toolKindOf(raw: unknown): string | undefined {
  const kind = record(raw)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

/** ACP `plan` updates carry `entries`; codex's todo_list carries `item.items` with `text`/`completed`. */
function planEntries(raw: unknown): PlanEntry[] {
  const acp = record(raw)?.entries;
  if (Array.isArray(acp)) {
    return acp.flatMap((entry) => {
      const e = record(entry);
      return typeof e?.content === 'string' ? [{ content: e.content, status: typeof e.status === 'string' ? e.status : undefined }] : [];
    });
  }
  const items = record(record(raw)?.item)?.items;
  if (Array.isArray(items)) {
    return items.flatMap((item) => {
      const i = record(item);
      return typeof i?.text === 'string' ? [{ content: i.text, status: i.completed === true ? 'completed' : 'pending' }] : [];
    });
  }
  return [];
}
