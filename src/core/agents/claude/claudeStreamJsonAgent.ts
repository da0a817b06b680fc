import { randomUUID } from 'node:crypto';
import type { AgentConnection, AgentStreamEvent, PermissionRequest, PromptRequest, PromptResult } from '../adapter';
import { asSentence } from '../../common/errors';
import { AgentError, adviceFor, classifyAgentFailure } from '../agentError';
import { LongLivedAgent } from '../longLivedAgent';
import { decidePermission } from '../permissions';
import { LineSplitter, assistantEvents, parseJsonLine, toolKindOf, turnEndOf, type ClaudeMessage } from './claudeMessages';

interface OpenTurn {
  onEvent: ((event: AgentStreamEvent) => void) | undefined;
  text: string[];
  sentAt: number;
  firstEventAt: number | undefined;
  interrupted: boolean;
  resolve: (result: PromptResult) => void;
  reject: (error: unknown) => void;
}

/**
 * Claude Code kept warm without ACP: `claude -p --input-format stream-json --output-format
 * stream-json --verbose`. One process holds one conversation; each turn is one `user` line in and
 * messages out until `result`. Readiness is the answer to the `initialize` control request (or the
 * `system/init` message, whichever comes first); cancel is the `interrupt` control request; tool
 * permissions arrive as `can_use_tool` control requests (with `--permission-prompt-tool stdio`).
 */
export class ClaudeStreamJsonAgent extends LongLivedAgent implements AgentConnection {
  private readonly lines = new LineSplitter();
  private sessionId: string | undefined;
  private turn: OpenTurn | undefined;
  private lastTotalCostUsd = 0;
  private markReady: (() => void) | undefined;
  private readonly initializeRequestId = `init-${randomUUID()}`;
  private readonly pendingPermissions = new Set<AbortController>();

  async start(signal?: AbortSignal): Promise<void> {
    const child = await this.spawn(signal);
    const handshake = new Promise<void>((resolve) => (this.markReady = resolve));
    child.stdout.on('data', (chunk: Buffer) => {
      child.noteActivity();
      this.lines.push(chunk, this.onLine);
    });
    child.onDidExit(() => this.turn?.reject(undefined));
    this.send({ type: 'control_request', request_id: this.initializeRequestId, request: { subtype: 'initialize' } });
    await this.boundHandshake(handshake, signal, () => undefined);
    this.ready = true;
  }

  async openSession(): Promise<string> {
    if (!this.ready) throw this.notRunning();
    this.sessionId ??= randomUUID();
    return this.sessionId;
  }

  async prompt(request: PromptRequest): Promise<PromptResult> {
    if (!this.ready || !this.child || this.child.hasExited) throw this.notRunning();
    if (this.turn) {
      throw new AgentError('AGENT_REQUEST_FAILED', `Agent profile "${this.profile.name}": a turn is already open (one conversation per Claude process).`, {
        profile: this.profile.name,
      });
    }
    const onAbort = () => void this.cancel(request.sessionId);
    try {
      return await new Promise<PromptResult>((resolve, reject) => {
        this.turn = { onEvent: request.onEvent, text: [], sentAt: performance.now(), firstEventAt: undefined, interrupted: false, resolve, reject };
        request.signal?.addEventListener('abort', onAbort, { once: true });
        this.send({ type: 'user', message: { role: 'user', content: request.text }, parent_tool_use_id: null, session_id: this.sessionId ?? 'default' });
        if (request.signal?.aborted) onAbort();
      });
    } catch (error) {
      throw error instanceof AgentError ? error : await this.crashError('a turn', error);
    } finally {
      this.turn = undefined;
      request.signal?.removeEventListener('abort', onAbort);
    }
  }

  async cancel(_sessionId?: string): Promise<void> {
    for (const pending of this.pendingPermissions) pending.abort();
    if (!this.turn || this.turn.interrupted) return;
    this.turn.interrupted = true;
    this.send({ type: 'control_request', request_id: `interrupt-${randomUUID()}`, request: { subtype: 'interrupt' } });
  }

  private send(message: unknown): void {
    const stdin = this.child?.stdin;
    if (!stdin || stdin.destroyed || !stdin.writable) return;
    stdin.write(`${JSON.stringify(message)}\n`);
  }

  private readonly onLine = (line: string): void => {
    const message = parseJsonLine(line) as ClaudeMessage | undefined;
    if (!message) {
      this.log('debug', `non-JSON line from claude: ${line.slice(0, 200)}`);
      return;
    }
    switch (message.type) {
      case 'control_response':
        if (message.response?.request_id === this.initializeRequestId) this.markReady?.();
        return;
      case 'system':
        if (message.subtype === 'init') {
          this.sessionId = message.session_id ?? this.sessionId;
          this.markReady?.();
        }
        return;
      case 'control_request':
        if (message.request?.subtype === 'can_use_tool') void this.answerToolPermission(message);
        return;
      case 'assistant':
        for (const event of assistantEvents(message)) this.emit(event);
        return;
      case 'result':
        this.finishTurn(message);
        return;
      default:
        if (this.turn && message.type !== 'keep_alive') this.emit({ kind: 'other', raw: message });
    }
  };

  private emit(event: AgentStreamEvent): void {
    const turn = this.turn;
    if (!turn) return;
    turn.firstEventAt ??= performance.now();
    if (event.kind === 'text' && event.text) turn.text.push(event.text);
    turn.onEvent?.(event);
  }

  private finishTurn(message: ClaudeMessage): void {
    const turn = this.turn;
    if (!turn) return;
    const end = turnEndOf(message);
    const costUsd = end.totalCostUsd === undefined ? undefined : end.totalCostUsd - this.lastTotalCostUsd;
    if (end.totalCostUsd !== undefined) this.lastTotalCostUsd = end.totalCostUsd;
    if (turn.interrupted) end.stopReason = 'cancelled';
    if (!end.stopReason) {
      const code = classifyAgentFailure(end.errorText ?? '');
      const advice = adviceFor(code, this.profile.name);
      turn.reject(
        new AgentError(code, `Agent profile "${this.profile.name}": the turn failed: ${asSentence(end.errorText ?? 'no reason given')}`, {
          profile: this.profile.name,
          command: this.profile.command,
          advice,
        }),
      );
      return;
    }
    const finishedAt = performance.now();
    turn.resolve({
      stopReason: end.stopReason,
      text: turn.text.join(''),
      firstEventMs: turn.firstEventAt === undefined ? undefined : turn.firstEventAt - turn.sentAt,
      totalMs: finishedAt - turn.sentAt,
      usage: end.usage || costUsd !== undefined ? { ...end.usage, costUsd } : undefined,
    });
  }

  private async answerToolPermission(message: ClaudeMessage): Promise<void> {
    const toolName = message.request?.tool_name;
    const request: PermissionRequest = {
      profile: this.profile.name,
      sessionId: this.sessionId ?? 'default',
      toolCall: { title: toolName, kind: toolKindOf(toolName), toolCallId: message.request?.tool_use_id, raw: message.request },
      options: [
        { optionId: 'allow', name: 'Allow', kind: 'allow_once' },
        { optionId: 'deny', name: 'Deny', kind: 'reject_once' },
      ],
    };
    const controller = new AbortController();
    this.pendingPermissions.add(controller);
    let optionId: string | undefined;
    try {
      optionId = await decidePermission(this.profile.permissionPolicy, request, this.options.permissionHandler, controller.signal);
    } catch (error) {
      this.log('warn', `permission handler failed, denying: ${String(error)}`);
    } finally {
      this.pendingPermissions.delete(controller);
    }
    const decision =
      optionId === 'allow'
        ? { behavior: 'allow', updatedInput: message.request?.input ?? {} }
        : { behavior: 'deny', message: optionId === undefined ? 'The turn was cancelled.' : `Denied by Agent Pool (policy ${this.profile.permissionPolicy}).` };
    this.send({ type: 'control_response', response: { subtype: 'success', request_id: message.request_id, response: decision } });
  }
}
