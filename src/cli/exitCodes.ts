import { errorCode } from '../core/pool/errors';

/**
 * The exit codes of every `agent-pool` command: one table, stable from its first release, because
 * scripts branch on them (retry on 3, give up on 1, fix the command line on 2). The README's
 * "Exit codes" table is generated from EXIT_CODE_TABLE and a test keeps the two equal.
 * Never renumber an entry; a new outcome gets a new number.
 */
export const ExitCode = {
  /** The command did what was asked; for `run`, the turn ended with stop reason end_turn. */
  ok: 0,
  /** The agent or the run failed: an agent error, a crash, a refusal, a truncated turn, an open circuit, an I/O error. */
  failure: 1,
  /** The command line is wrong: unknown flag or command, bad value, unknown profile, unreadable prompt or profiles file. */
  usage: 2,
  /** No capacity in time: the shared budget was exhausted, the queue was full, or a wait, handshake or turn timed out. Retrying later may work. */
  budgetOrTimeout: 3,
  /** Interrupted by SIGINT (Ctrl-C): the turn was cancelled and the agent stopped. 128 + 2, as shells report it. */
  interrupted: 130,
  /** Terminated by SIGTERM: the turn was cancelled and the agent stopped. 128 + 15. */
  terminated: 143,
} as const;

export type ExitCodeName = keyof typeof ExitCode;
export type ExitCodeValue = (typeof ExitCode)[ExitCodeName];

/** The table the README and `--help` show, in code order. */
export const EXIT_CODE_TABLE: ReadonlyArray<{ code: ExitCodeValue; name: ExitCodeName; meaning: string }> = [
  { code: ExitCode.ok, name: 'ok', meaning: 'Done. For `run`: the turn ended with stop reason `end_turn`.' },
  {
    code: ExitCode.failure,
    name: 'failure',
    meaning:
      'The agent or the run failed: agent error or crash, auth or rate-limit error, open circuit, stop reason `refusal`, `max_tokens` or `max_turn_requests`, an unreadable registry, a conversation or window named that does not exist (`conversations show`, `export` or `close NAME`, `metrics --instance ID`).',
  },
  {
    code: ExitCode.usage,
    name: 'usage',
    meaning: 'Usage error: unknown command or flag, bad value, unknown profile, invalid `--profiles` file, unreadable or empty prompt file.',
  },
  {
    code: ExitCode.budgetOrTimeout,
    name: 'budgetOrTimeout',
    meaning:
      'Budget or timeout: no agent slot in time (shared budget exhausted, queue full, acquire timeout), or the agent timed out (handshake, first event, idle watchdog, turn deadline), or the conversation stayed busy in another window or process past `--wait`. Retrying later may work.',
  },
  { code: ExitCode.interrupted, name: 'interrupted', meaning: 'SIGINT (Ctrl-C): the turn was cancelled and the agent stopped.' },
  { code: ExitCode.terminated, name: 'terminated', meaning: 'SIGTERM: the turn was cancelled and the agent stopped.' },
];

/** Error codes (AgentPoolError.code) that mean "no capacity or no answer in time". */
const BUDGET_OR_TIMEOUT_CODES: ReadonlySet<string> = new Set([
  'BUDGET_EXHAUSTED',
  'POOL_QUEUE_FULL',
  'POOL_ACQUIRE_TIMEOUT',
  'TURN_IDLE_TIMEOUT',
  'TURN_DEADLINE_EXCEEDED',
  'AGENT_HANDSHAKE_TIMEOUT',
  'AGENT_FIRST_EVENT_TIMEOUT',
  'CONVERSATION_BUSY',
  'CONVERSATION_WAIT_TIMEOUT',
]);

/** Error codes that mean the command line named something that does not exist or cannot be used. */
const USAGE_CODES: ReadonlySet<string> = new Set(['UNKNOWN_PROFILE', 'PROFILE_INVALID', 'CLI_USAGE']);

/** The exit code for an error that ended a command; anything unclassified is a failure (1). */
export function exitCodeForError(error: unknown): ExitCodeValue {
  const code = errorCode(error);
  if (code === undefined) return ExitCode.failure;
  if (BUDGET_OR_TIMEOUT_CODES.has(code)) return ExitCode.budgetOrTimeout;
  if (USAGE_CODES.has(code)) return ExitCode.usage;
  return ExitCode.failure;
}

/** The exit code for a signal that stopped a command. */
export function exitCodeForSignal(signal: NodeJS.Signals): ExitCodeValue {
  return signal === 'SIGTERM' ? ExitCode.terminated : ExitCode.interrupted;
}

/** The exit code for a turn that ended with an ACP stop reason (cancelled without a signal counts as SIGINT). */
export function exitCodeForStopReason(stopReason: string, signal?: NodeJS.Signals): ExitCodeValue {
  if (stopReason === 'end_turn') return ExitCode.ok;
  if (stopReason === 'cancelled') return exitCodeForSignal(signal ?? 'SIGINT');
  return ExitCode.failure;
}

/** The short form for `--help`: "0 ok, 1 failure, 2 usage, …". */
export function exitCodeSummary(): string {
  return EXIT_CODE_TABLE.map((entry) => `${entry.code} ${entry.name}`).join(', ');
}

/** The README table, one row per code. */
export function exitCodeMarkdown(): string {
  return ['| code | name | meaning |', '|---|---|---|', ...EXIT_CODE_TABLE.map((e) => `| ${e.code} | \`${e.name}\` | ${e.meaning} |`)].join('\n');
}
