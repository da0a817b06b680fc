import { createInterface } from 'node:readline';
import type { PermissionHandler, PermissionPolicy, PermissionRequest } from '../core/agents/adapter';
import { decidePermission } from '../core/agents/permissions';
import type { RunOutput } from './output/runOutput';
import { describeToolCall } from './output/runOutput';

export const PERMISSION_POLICIES: readonly PermissionPolicy[] = ['ask', 'allowReadOnly', 'allowAll', 'reject'];

/** Asks the person at the terminal; resolves with the chosen optionId, or undefined when cancelled. */
export type TerminalAsk = (request: PermissionRequest, signal: AbortSignal) => Promise<{ optionId?: string }>;

/**
 * Answers an agent's permission requests for one CLI run under the policy of `--permissions` (or
 * the profile's own). The profile is run with policy `ask` so that every request, also those the
 * policy decides alone, comes through here and shows up as permission_requested/answered events.
 * Without a terminal `ask` refuses, and says so once per request with the flag that decides instead.
 */
export class CliPermissions {
  private requests = 0;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(
    readonly policy: PermissionPolicy,
    private readonly output: () => RunOutput | undefined,
    private readonly terminal: TerminalAsk | undefined,
  ) {}

  readonly handler: PermissionHandler = (request, signal) => {
    // One question at a time on the terminal; agents may ask several in parallel.
    const answer = this.queue.then(() => this.decide(request, signal));
    this.queue = answer.catch(() => undefined);
    return answer;
  };

  private async decide(request: PermissionRequest, signal: AbortSignal): Promise<{ optionId?: string }> {
    const requestId = ++this.requests;
    const output = this.output();
    output?.permissionRequested(requestId, request);
    const asking = this.policy === 'ask';
    if (asking && !this.terminal) {
      output?.notice(
        `Refused ${describeToolCall(request)}: permissions are "ask" but there is no terminal to ask on (stdin is not a TTY). ` +
          'Decide without asking with --permissions allowReadOnly, allowAll or reject.',
      );
    }
    const optionId = await decidePermission(this.policy, request, this.terminal, signal);
    const chosen = request.options.find((option) => option.optionId === optionId);
    output?.permissionAnswered({
      requestId,
      optionId,
      allowed: chosen?.kind.startsWith('allow') ?? false,
      decidedBy: !asking ? 'policy' : this.terminal ? 'user' : 'no-terminal',
    });
    return { optionId };
  }
}

/**
 * Asks on the terminal: the tool call and the agent's own options, numbered, on stderr; the answer
 * from stdin. Anything but a listed number or option id asks again; cancelling the turn ends it.
 */
export function terminalAsk(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): TerminalAsk {
  return (request, signal) =>
    new Promise((resolve) => {
      const lines = createInterface({ input, output, terminal: true });
      let finished = false;
      const finish = (optionId: string | undefined) => {
        if (finished) return;
        finished = true;
        signal.removeEventListener('abort', onAbort);
        lines.close();
        resolve({ optionId });
      };
      const onAbort = () => finish(undefined);
      signal.addEventListener('abort', onAbort, { once: true });
      // Ctrl-D or a closed terminal answers nothing: the request is cancelled, never allowed.
      lines.once('close', () => finish(undefined));
      const menu = request.options.map((option, index) => `  ${index + 1}) ${option.name} [${option.kind}]`).join('\n');
      const question = `The agent asks for permission: ${describeToolCall(request)}\n${menu}\nChoose 1-${request.options.length}: `;
      const ask = () =>
        lines.question(question, (answer) => {
          const trimmed = answer.trim();
          const byNumber = request.options[Number(trimmed) - 1];
          const byId = request.options.find((option) => option.optionId === trimmed);
          const option = /^\d+$/.test(trimmed) ? byNumber : byId;
          if (option) finish(option.optionId);
          else ask();
        });
      if (signal.aborted) finish(undefined);
      else ask();
    });
}
