/**
 * The event stream of `agent-pool run --format json`: one JSON object per line, in our own schema
 * (one-shot and stream-json adapters are not ACP, so ACP notifications are translated, not copied).
 *
 * Versioning: every line carries `v`. Within a version fields are only added and new event types
 * may appear, so a consumer ignores what it does not know; renaming or removing a field, or
 * changing its meaning, makes a new version. The README documents version 1 and a test reads the
 * stream of the real binary with the README's own consumer.
 */
export const RUN_EVENT_SCHEMA_VERSION = 1;

interface EventBase {
  v: typeof RUN_EVENT_SCHEMA_VERSION;
  /** 0 for the first line of the run, then +1 per line: a gap means a lost line. */
  seq: number;
  /** Milliseconds since the command started. */
  elapsedMs: number;
}

export interface StartedEvent extends EventBase {
  type: 'started';
  profile: string;
  /** The pool's agent id that serves the turn, e.g. `demo-1`. */
  agent: string;
  /** The conversation name (`--session`), or null for a one-off prompt. */
  conversation: string | null;
  adapter: string;
  /** The permission policy in force for this run. */
  permissions: string;
}

/** A conversation's turn is running elsewhere (another shell or a window); this prompt waits its turn. */
export interface QueuedEvent extends EventBase {
  type: 'queued';
  conversation: string;
  /** The window or process whose turn runs now (null when unknown). */
  owner: { label: string; pid: number } | null;
  /** Prompts ahead of this one, the running turn included; they go first, in the order they came. */
  ahead: number;
}

export interface ChunkEvent extends EventBase {
  type: 'message_chunk' | 'thought_chunk';
  text: string;
}

export interface ToolCallEvent extends EventBase {
  type: 'tool_call' | 'tool_call_update';
  toolCallId: string | null;
  /** Present on tool_call; on an update only when the title changed. */
  title: string | null;
  kind: string | null;
  status: string | null;
}

export interface PlanEvent extends EventBase {
  type: 'plan';
  entries: Array<{ content: string; priority: string | null; status: string | null }>;
}

export interface PermissionRequestedEvent extends EventBase {
  type: 'permission_requested';
  /** Pairs the request with its permission_answered line. */
  requestId: number;
  toolCall: { toolCallId: string | null; title: string | null; kind: string | null };
  options: Array<{ optionId: string; name: string; kind: string }>;
}

export interface PermissionAnsweredEvent extends EventBase {
  type: 'permission_answered';
  requestId: number;
  /** `selected` with an optionId, or `cancelled` (the turn was cancelled, or no option fitted). */
  outcome: 'selected' | 'cancelled';
  optionId: string | null;
  /** Whether the chosen option allows the tool call. */
  allowed: boolean;
  /** Who decided: the policy, the person at the terminal, or the `ask` policy without a terminal. */
  decidedBy: 'policy' | 'user' | 'no-terminal';
}

export interface UsageEvent extends EventBase {
  type: 'usage';
  /** Context tokens in use, and the context window, as the agent reports them. */
  contextUsed: number | null;
  contextSize: number | null;
  /** The conversation's running cost total in USD; a turn's own cost is in `done.costUsd`. */
  sessionCostUsd: number | null;
}

/** Anything else the agent sent, under its own name, so nothing is lost. */
export interface OtherEvent extends EventBase {
  type: 'other';
  /** The protocol's name for it (ACP `sessionUpdate`, a dialect's `type`), when it has one. */
  name: string | null;
  raw: unknown;
}

export interface DoneEvent extends EventBase {
  type: 'done';
  /** The process's exit code (the README's table), always equal to what the shell sees. */
  exitCode: number;
  /** The exit code's name in that table: ok, failure, usage, budgetOrTimeout, interrupted, terminated. */
  outcome: string;
  /** The agent's stop reason, or null when no turn ended (an error before or during it). */
  stopReason: string | null;
  /** Whole run, from the command's start. */
  durationMs: number;
  /** From sending the prompt to the agent's first event, when there was one. */
  firstEventMs: number | null;
  /** What this turn cost in USD, when the agent reports cost. */
  costUsd: number | null;
  inputTokens: number | null;
  outputTokens: number | null;
  /** Context tokens in use after this turn, and the context window, when the agent reports them (ACP usage_update used/size). */
  contextUsed: number | null;
  contextSize: number | null;
  /** The whole answer text (all message chunks). */
  text: string;
  /** Set when the run failed: the error's code (e.g. BUDGET_EXHAUSTED) and the message shown on stderr. */
  error: { code: string | null; message: string } | null;
}

/** What a run's `done` line reports of the run itself, before the writer numbers it and names its outcome. */
export type RunOutcomeFields = Omit<DoneEvent, keyof EventBase | 'type' | 'outcome'>;

/** A run about which nothing is known yet but its exit code. */
export function emptyRunOutcome(exitCode: number): RunOutcomeFields {
  return { exitCode, stopReason: null, durationMs: 0, firstEventMs: null, costUsd: null, inputTokens: null, outputTokens: null, contextUsed: null, contextSize: null, text: '', error: null };
}

export type RunEvent =
  | StartedEvent
  | QueuedEvent
  | ChunkEvent
  | ToolCallEvent
  | PlanEvent
  | PermissionRequestedEvent
  | PermissionAnsweredEvent
  | UsageEvent
  | OtherEvent
  | DoneEvent;

export type RunEventType = RunEvent['type'];

/** What callers hand to the writer: an event without the envelope. */
export type RunEventBody = RunEvent extends infer E ? (E extends RunEvent ? Omit<E, keyof EventBase> : never) : never;

/** Stamps the envelope (version, sequence, time) on each event and writes it as one line. */
export class RunEventWriter {
  private seq = 0;

  constructor(
    private readonly write: (line: string) => void,
    private readonly startedAt: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  emit(body: RunEventBody): void {
    const event = { v: RUN_EVENT_SCHEMA_VERSION, seq: this.seq++, elapsedMs: Math.round(this.now() - this.startedAt), ...body };
    this.write(`${JSON.stringify(event)}\n`);
  }
}

/**
 * Reads one line of the stream, for TypeScript consumers: checks the envelope and the version and
 * returns the event, or throws saying what is wrong with the line. Unknown types pass through.
 */
export function parseRunEvent(line: string): RunEvent {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new Error(`not a JSON line: ${(error as Error).message}: ${line.slice(0, 120)}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new Error(`not a JSON object: ${line.slice(0, 120)}`);
  const event = value as Partial<EventBase> & { type?: unknown };
  if (event.v !== RUN_EVENT_SCHEMA_VERSION) throw new Error(`schema version ${String(event.v)}, this reader knows ${RUN_EVENT_SCHEMA_VERSION}`);
  if (typeof event.type !== 'string' || typeof event.seq !== 'number' || typeof event.elapsedMs !== 'number') {
    throw new Error(`missing type, seq or elapsedMs: ${line.slice(0, 120)}`);
  }
  return value as RunEvent;
}
