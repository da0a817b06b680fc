import type { SessionContinuity, TurnUsage } from './conversation';

export const TRANSCRIPT_SCHEMA = 'agent-pool/transcript';
export const TRANSCRIPT_VERSION = 1;

/**
 * A prompt, an answer or a turn's thoughts are kept up to this many characters, the rest cut with
 * a note: one turn's line stays far below a transcript file's bound (./transcriptStore.ts), so a
 * single runaway answer cannot push the conversation's earlier turns out.
 */
export const TRANSCRIPT_TEXT_LIMIT = 64 * 1024;
/** Tool calls kept per turn; an agent looping over hundreds of reads is summed up by the count. */
export const TRANSCRIPT_TOOL_CALL_LIMIT = 100;

interface EntryBase {
  schema: typeof TRANSCRIPT_SCHEMA;
  v: typeof TRANSCRIPT_VERSION;
  /** The conversation's name: the file is named by its hash, so every line says whose it is. */
  key: string;
  profile: string;
  /** The pool's agent id that served it, e.g. `demo-1` (ids repeat across processes). */
  agent: string;
  /** The agent session the turn ran in. */
  sessionId: string | null;
  /** Wall-clock ms. */
  at: number;
}

export interface TranscriptToolCall {
  id: string | null;
  title: string | null;
  kind: string | null;
  /** The last status the agent reported (`completed`, `failed`, …). */
  status: string | null;
}

/** One turn: what was asked, what came back, and what it cost. */
export interface TranscriptTurn extends EntryBase {
  type: 'turn';
  /** The conversation's turn count after this turn; null for a turn that failed (it does not count). */
  turn: number | null;
  endedAt: number;
  prompt: string;
  answer: string;
  /** The agent's reasoning chunks, joined; empty when it sent none. */
  thoughts: string;
  toolCalls: TranscriptToolCall[];
  /** Tool calls beyond TRANSCRIPT_TOOL_CALL_LIMIT, counted only. */
  moreToolCalls: number;
  /** The ACP stop reason; null when the turn failed. */
  stopReason: string | null;
  /** Why the turn failed, in the core's words; null when it ended with a stop reason. */
  error: string | null;
  usage: TurnUsage | null;
  /** How the session came to serve the turn (`kept`, `started`, `resumed`, `loaded`, `context-lost`). */
  continuity: SessionContinuity | null;
  /** The fields cut at TRANSCRIPT_TEXT_LIMIT. */
  cut: Array<'prompt' | 'answer' | 'thoughts'>;
}

/** The conversation went on in a new session: everything before this line is unknown to the agent. */
export interface TranscriptContextLost extends EntryBase {
  type: 'context-lost';
  /** Why, in words for the user (the session that could not be continued is named in it). */
  reason: string;
}

export type TranscriptEntry = TranscriptTurn | TranscriptContextLost;

/** The stream events of a turn as far as the transcript cares (the adapters' AgentStreamEvent has this shape). */
export interface TranscriptStreamEvent {
  kind: string;
  text?: string;
  raw?: unknown;
}

/** Collects a turn's thoughts and tool calls as the events stream by. */
export class TurnTally {
  private thoughts = '';
  private readonly toolCalls = new Map<string, TranscriptToolCall>();
  private anonymous = 0;
  private overflow = 0;

  see(event: TranscriptStreamEvent): void {
    if (event.kind === 'thought') {
      if (event.text && this.thoughts.length <= TRANSCRIPT_TEXT_LIMIT) this.thoughts += event.text;
      return;
    }
    if (event.kind !== 'tool-call' && event.kind !== 'tool-call-update') return;
    const raw = fields(event.raw);
    const id = text(raw.toolCallId) ?? text(raw.id);
    const known = id === null ? undefined : this.toolCalls.get(id);
    if (known) {
      known.title = text(raw.title) ?? known.title;
      known.kind = text(raw.kind) ?? known.kind;
      known.status = text(raw.status) ?? known.status;
      return;
    }
    if (this.toolCalls.size >= TRANSCRIPT_TOOL_CALL_LIMIT) {
      this.overflow++;
      return;
    }
    const call = { id, title: text(raw.title) ?? (event.kind === 'tool-call' ? text(event.text) : null), kind: text(raw.kind), status: text(raw.status) };
    this.toolCalls.set(id ?? `#${this.anonymous++}`, call);
  }

  summary(): { thoughts: string; toolCalls: TranscriptToolCall[]; moreToolCalls: number } {
    return { thoughts: this.thoughts, toolCalls: [...this.toolCalls.values()], moreToolCalls: this.overflow };
  }
}

export interface EndedTurn {
  key: string;
  profile: string;
  agent: string;
  sessionId: string | undefined;
  turn: number | undefined;
  startedAt: number;
  endedAt: number;
  prompt: string;
  tally: TurnTally;
  result?: { text: string; stopReason: string; usage?: TurnUsage; continuity?: SessionContinuity; contextLost?: string };
  error?: string;
  /** Why the earlier context is gone, when the turn went on in a new session (also for a turn that then failed). */
  contextLost?: string;
}

/** The lines one turn adds: a context-lost line first when its session is a new one without the earlier context. */
export function transcriptLines(turn: EndedTurn): TranscriptEntry[] {
  const base = { schema: TRANSCRIPT_SCHEMA, v: TRANSCRIPT_VERSION, key: turn.key, profile: turn.profile, agent: turn.agent, sessionId: turn.sessionId ?? null } as const;
  const lines: TranscriptEntry[] = [];
  const result = turn.result;
  const lost = turn.contextLost ?? (result?.continuity === 'context-lost' ? (result.contextLost ?? 'the agent could not continue the session') : undefined);
  if (lost !== undefined) lines.push({ ...base, type: 'context-lost', at: turn.startedAt, reason: lost });
  const cut: TranscriptTurn['cut'] = [];
  const keep = (field: 'prompt' | 'answer' | 'thoughts', value: string) => {
    if (value.length <= TRANSCRIPT_TEXT_LIMIT) return value;
    cut.push(field);
    return `${value.slice(0, TRANSCRIPT_TEXT_LIMIT)}\n[… ${value.length - TRANSCRIPT_TEXT_LIMIT} more characters not kept in the transcript]`;
  };
  const tally = turn.tally.summary();
  lines.push({
    ...base,
    type: 'turn',
    turn: result ? (turn.turn ?? null) : null,
    at: turn.startedAt,
    endedAt: turn.endedAt,
    prompt: keep('prompt', turn.prompt),
    answer: keep('answer', result?.text ?? ''),
    thoughts: keep('thoughts', tally.thoughts),
    toolCalls: tally.toolCalls,
    moreToolCalls: tally.moreToolCalls,
    stopReason: result?.stopReason ?? null,
    error: result ? null : (turn.error ?? 'the turn failed'),
    usage: result?.usage ? { ...result.usage } : null,
    continuity: result?.continuity ?? null,
    cut,
  });
  return lines;
}

type Fields = Record<string, unknown>;

function fields(value: unknown): Fields {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Fields) : {};
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isTime = (value: unknown): value is number => typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isStringOrNull = (value: unknown) => value === null || isString(value);

/** Checks one line read back from a transcript file field by field; anything else is a bad line. */
export function validateTranscriptEntry(value: unknown, key: string): { ok: true; value: TranscriptEntry } | { ok: false; detail: string } {
  const entry = fields(value);
  if (entry.schema !== TRANSCRIPT_SCHEMA || entry.v !== TRANSCRIPT_VERSION) return { ok: false, detail: `schema ${JSON.stringify(entry.schema)} version ${JSON.stringify(entry.v)}` };
  if (entry.key !== key) return { ok: false, detail: `a line of conversation ${JSON.stringify(entry.key)}` };
  if (!isString(entry.profile) || !isString(entry.agent) || !isStringOrNull(entry.sessionId) || !isTime(entry.at)) return { ok: false, detail: 'profile, agent, sessionId or at' };
  if (entry.type === 'context-lost') return isString(entry.reason) ? { ok: true, value: entry as unknown as TranscriptContextLost } : { ok: false, detail: 'reason' };
  if (entry.type !== 'turn') return { ok: false, detail: `type ${JSON.stringify(entry.type)}` };
  if (!isString(entry.prompt) || !isString(entry.answer) || !isString(entry.thoughts) || !isTime(entry.endedAt)) return { ok: false, detail: 'prompt, answer, thoughts or endedAt' };
  if (!isStringOrNull(entry.stopReason) || !isStringOrNull(entry.error) || !isStringOrNull(entry.continuity)) return { ok: false, detail: 'stopReason, error or continuity' };
  if (!(entry.turn === null || isTime(entry.turn)) || !isTime(entry.moreToolCalls)) return { ok: false, detail: 'turn or moreToolCalls' };
  if (!Array.isArray(entry.toolCalls) || !entry.toolCalls.every((call) => ['id', 'title', 'kind', 'status'].every((name) => isStringOrNull(fields(call)[name])))) return { ok: false, detail: 'toolCalls' };
  if (!Array.isArray(entry.cut) || !entry.cut.every(isString)) return { ok: false, detail: 'cut' };
  if (entry.usage !== null && (!entry.usage || typeof entry.usage !== 'object' || !Object.values(entry.usage).every((n) => typeof n === 'number' && Number.isFinite(n)))) return { ok: false, detail: 'usage' };
  return { ok: true, value: entry as unknown as TranscriptTurn };
}
