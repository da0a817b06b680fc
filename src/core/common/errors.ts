/**
 * Typed errors that carry a machine-readable code, the cause, and a message that says what to do.
 * UI and CLI show `message`; code paths branch on `code`.
 */
export class AgentPoolError extends Error {
  constructor(
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'AgentPoolError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
