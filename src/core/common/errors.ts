/**
 * Typed errors that carry a machine-readable code, the cause, and a message that says what to do.
 * UI and CLI show `message` (or `describeFor(error, surface)`); code paths branch on `code`.
 */
export class AgentPoolError extends Error {
  /** What happened, without the advice: the part every surface shows the same way. */
  readonly facts: string;
  /** What to do about it, written for each surface (settings in VS Code, flags and files in the CLI). */
  readonly advice: SurfaceAdvice | undefined;

  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown; advice?: SurfaceAdvice },
  ) {
    // The plain message is the extension's: its log, notifications and chat read `message`.
    super(options?.advice ? joinSentences(message, options.advice.vscode) : message, options);
    this.name = 'AgentPoolError';
    this.facts = message;
    this.advice = options?.advice;
  }
}

/** Where a message is shown: each gives different advice (VS Code settings, or CLI flags and files). */
export type Surface = 'vscode' | 'cli';

export type SurfaceAdvice = Record<Surface, string>;

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The error's facts with the advice for `surface`; errors without surface advice read as their message. */
export function describeFor(error: unknown, surface: Surface): string {
  if (error instanceof AgentPoolError && error.advice) return joinSentences(error.facts, error.advice[surface]);
  return errorMessage(error);
}

/** "a" + "b" as two sentences: one period between them, never "..", nothing added to an empty part. */
export function joinSentences(...parts: Array<string | undefined>): string {
  return parts
    .map((part) => part?.trim() ?? '')
    .filter((part) => part !== '')
    .map((part, index, all) => (index < all.length - 1 ? asSentence(part) : part))
    .join(' ');
}

/** Ends `text` with a full stop unless it already ends with one (or with ?, !, :). */
export function asSentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?:]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}
