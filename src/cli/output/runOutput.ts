import type { AgentStreamEvent, PermissionRequest } from '../../core/agents/adapter';
import { formatContextUse } from '../../core/conversations/conversation';
import { EXIT_CODE_TABLE } from '../exitCodes';
import type { CliIo } from '../io';
import { RunEventWriter, type RunOutcomeFields } from './runEvents';
import { translateAgentEvent } from './translate';

export const RUN_FORMATS = ['text', 'json', 'quiet'] as const;
export type RunFormat = (typeof RUN_FORMATS)[number];

export interface RunStart {
  profile: string;
  agent: string;
  conversation: string | null;
  adapter: string;
  permissions: string;
}

export interface QueueOwner {
  label: string;
  pid: number;
}

export interface PermissionAnswer {
  requestId: number;
  optionId: string | undefined;
  allowed: boolean;
  decidedBy: 'policy' | 'user' | 'no-terminal';
}

export interface RunSummary extends RunOutcomeFields {
  /** Known once an agent took the turn. */
  start: RunStart | null;
}

/**
 * Where one `run` reports what happens, in the format the user chose. Every method is called in
 * the order things happen; `done` exactly once, last, also after a failure.
 */
export interface RunOutput {
  started(start: RunStart): void;
  /** The conversation's turn runs elsewhere: this prompt waits (a line on stderr in every format). */
  /** `ahead`: the turns before this one, the running one included. */
  queued(conversation: string, owner: QueueOwner | null, ahead: number): void;
  agentEvent(event: AgentStreamEvent): void;
  permissionRequested(requestId: number, request: PermissionRequest): void;
  permissionAnswered(answer: PermissionAnswer): void;
  /** A line for the person (stderr in every format): why a permission was refused, what the run waits for. */
  notice(text: string): void;
  done(summary: RunSummary): void;
}

export function createRunOutput(format: RunFormat, io: CliIo, startedAt: number): RunOutput {
  switch (format) {
    case 'json':
      return new JsonRunOutput(io, new RunEventWriter((line) => io.out(line), startedAt));
    case 'quiet':
      return new QuietRunOutput(io);
    case 'text':
      return new TextRunOutput(io);
  }
}

function outcomeName(exitCode: number): string {
  return EXIT_CODE_TABLE.find((entry) => entry.code === exitCode)?.name ?? 'failure';
}

/** The answer streams to stdout; tool calls, permissions and a summary line go to stderr. */
class TextRunOutput implements RunOutput {
  private endsWithNewline = true;

  constructor(private readonly io: CliIo) {}

  started(): void {}

  queued(conversation: string, owner: QueueOwner | null, ahead: number): void {
    this.notice(queuedLine(conversation, owner, ahead));
  }

  agentEvent(event: AgentStreamEvent): void {
    if (event.kind === 'text' && event.text) {
      this.io.out(event.text);
      this.endsWithNewline = event.text.endsWith('\n');
      return;
    }
    const body = translateAgentEvent(event);
    if (body?.type === 'tool_call') this.notice(`tool: ${body.title ?? body.kind ?? 'tool call'}${body.status ? ` (${body.status})` : ''}`);
    else if (body?.type === 'tool_call_update' && body.status) this.notice(`tool ${body.toolCallId ?? ''}: ${body.status}`.replace(' :', ':'));
  }

  permissionRequested(_requestId: number, request: PermissionRequest): void {
    this.notice(`permission asked: ${describeToolCall(request)}`);
  }

  permissionAnswered(answer: PermissionAnswer): void {
    this.notice(`permission ${answer.allowed ? 'granted' : 'refused'}${answer.optionId ? ` (${answer.optionId})` : ''}${answer.decidedBy === 'policy' ? ' by policy' : ''}`);
  }

  notice(text: string): void {
    this.io.err(`${text}\n`);
  }

  done(summary: RunSummary): void {
    if (!this.endsWithNewline) this.io.out('\n');
    if (summary.stopReason === null || summary.start === null) return;
    const cost = summary.costUsd === null ? '' : ` · $${summary.costUsd.toFixed(4)}`;
    const contextUse = summary.contextUsed === null ? undefined : formatContextUse({ contextUsed: summary.contextUsed, contextSize: summary.contextSize ?? undefined });
    const context = contextUse === undefined ? '' : ` · context ${contextUse}`;
    this.io.err(`${summary.stopReason} · agent ${summary.start.agent} (${summary.start.profile}) · ${(summary.durationMs / 1000).toFixed(2)} s${cost}${context}\n`);
  }
}

/** Only the final answer, once the turn is over: what `$(agent-pool run --format quiet …)` captures. */
class QuietRunOutput implements RunOutput {
  constructor(private readonly io: CliIo) {}
  started(): void {}
  queued(conversation: string, owner: QueueOwner | null, ahead: number): void {
    this.notice(queuedLine(conversation, owner, ahead));
  }
  agentEvent(): void {}
  permissionRequested(): void {}
  permissionAnswered(): void {}
  notice(text: string): void {
    this.io.err(`${text}\n`);
  }
  done(summary: RunSummary): void {
    if (summary.text === '') return;
    this.io.out(summary.text.endsWith('\n') ? summary.text : `${summary.text}\n`);
  }
}

/** One event per line on stdout (the schema in runEvents.ts); notices still go to stderr for people. */
class JsonRunOutput implements RunOutput {
  constructor(
    private readonly io: CliIo,
    private readonly writer: RunEventWriter,
  ) {}

  started(start: RunStart): void {
    this.writer.emit({ type: 'started', ...start });
  }

  queued(conversation: string, owner: QueueOwner | null, ahead: number): void {
    this.writer.emit({ type: 'queued', conversation, owner: owner && { label: owner.label, pid: owner.pid }, ahead });
    this.notice(queuedLine(conversation, owner, ahead));
  }

  agentEvent(event: AgentStreamEvent): void {
    const body = translateAgentEvent(event);
    if (body) this.writer.emit(body);
  }

  permissionRequested(requestId: number, request: PermissionRequest): void {
    this.writer.emit({
      type: 'permission_requested',
      requestId,
      toolCall: { toolCallId: request.toolCall.toolCallId ?? null, title: request.toolCall.title ?? null, kind: request.toolCall.kind ?? null },
      options: request.options.map((option) => ({ optionId: option.optionId, name: option.name, kind: option.kind })),
    });
  }

  permissionAnswered(answer: PermissionAnswer): void {
    this.writer.emit({
      type: 'permission_answered',
      requestId: answer.requestId,
      outcome: answer.optionId === undefined ? 'cancelled' : 'selected',
      optionId: answer.optionId ?? null,
      allowed: answer.allowed,
      decidedBy: answer.decidedBy,
    });
  }

  notice(text: string): void {
    this.io.err(`${text}\n`);
  }

  done(summary: RunSummary): void {
    this.writer.emit({
      type: 'done',
      exitCode: summary.exitCode,
      outcome: outcomeName(summary.exitCode),
      stopReason: summary.stopReason,
      durationMs: Math.round(summary.durationMs),
      firstEventMs: summary.firstEventMs === null ? null : Math.round(summary.firstEventMs),
      costUsd: summary.costUsd,
      inputTokens: summary.inputTokens,
      outputTokens: summary.outputTokens,
      contextUsed: summary.contextUsed,
      contextSize: summary.contextSize,
      text: summary.text,
      error: summary.error,
    });
  }
}

function queuedLine(conversation: string, owner: QueueOwner | null, ahead: number): string {
  const where = owner ? `in ${owner.label} (pid ${owner.pid})` : 'in another window or process';
  const behind = ahead > 1 ? `its turn, behind ${ahead} prompts (the running one included)` : 'for it to end';
  return `Conversation "${conversation}" is running a turn ${where}; this prompt waits ${behind}…`;
}

export function describeToolCall(request: PermissionRequest): string {
  const { title, kind } = request.toolCall;
  return `${title ?? 'a tool call'}${kind ? ` (${kind})` : ''} for profile "${request.profile}"`;
}
