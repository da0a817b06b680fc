import { Readable, Writable } from 'node:stream';
import type * as Acp from '@agentclientprotocol/sdk' with { 'resolution-mode': 'import' };
import type { AgentConnection, AgentStreamEvent, PermissionRequest, PromptRequest, PromptResult, ResumeRequest, SessionSupport, TokenUsage } from '../adapter';
import { asSentence } from '../../common/errors';
import { setUnfrozenTimeout } from '../../common/unfrozenClock';
import { AgentError, adviceFor, classifyAgentFailure, describeAgentData } from '../agentError';
import { LongLivedAgent } from '../longLivedAgent';
import { decidePermission } from '../permissions';
import { chooseSignIn, readAuthMethods, signInAdvice, type OfferedAuthMethod } from './signIn';

type AcpModule = typeof Acp;
let acpModule: Promise<AcpModule> | undefined;
/** The SDK is ESM-only; one dynamic import serves every connection (esbuild inlines it in bundles). */
export function loadAcpSdk(): Promise<AcpModule> {
  acpModule ??= import('@agentclientprotocol/sdk');
  return acpModule;
}

interface OpenTurn {
  onEvent: ((event: AgentStreamEvent) => void) | undefined;
  text: string[];
  sentAt: number;
  firstEventAt: number | undefined;
  /** The last usage_update of the turn: the session's running cost total and its context use. */
  usage: Acp.UsageUpdate | undefined;
  /** session/update notifications by kind, for the one debug line per turn (not one per chunk: chunks are the hot path). */
  updates: Map<string, number>;
}

/** ACP's "resource not found": the agent no longer has the session (claude-agent-acp after its files went). */
const RESOURCE_NOT_FOUND = -32002;

/**
 * An Agent Client Protocol agent kept warm: one process, many sessions and turns. Streams
 * session/update into AgentStreamEvents, answers permission requests by the profile's policy, and
 * maps auth and rate-limit errors to their own codes so the pool opens its circuit at once.
 */
export class AcpAgent extends LongLivedAgent implements AgentConnection {
  private connection: Acp.ClientConnection | undefined;
  private methods!: AcpModule['methods'];
  private readonly turns = new Map<string, OpenTurn>();
  private readonly pendingPermissions = new Map<string, Set<AbortController>>();
  /** sessionId -> the running cost total last reported, so each turn records only its own share. */
  private readonly sessionCosts = new Map<string, number>();
  /** What the agent said about itself in `initialize`, for logs and the UI. */
  initializeResponse: Acp.InitializeResponse | undefined;
  /** The sign-in methods the agent offers; an auth failure lists them with how to use each. */
  authMethods: OfferedAuthMethod[] = [];
  /** The method passed to `authenticate`, if any. */
  signedInWith: string | undefined;

  async start(signal?: AbortSignal): Promise<void> {
    const acp = await loadAcpSdk();
    this.methods = acp.methods;
    const child = await this.spawn(signal);
    const input = Readable.toWeb(child.stdout) as ReadableStream<Uint8Array>;
    child.stdout.on('data', () => child.noteActivity());
    const app = acp
      .client({ name: 'agent-pool' })
      .onNotification(acp.methods.client.session.update, ({ params }) => this.onSessionUpdate(params))
      .onRequest(acp.methods.client.session.requestPermission, ({ params, signal: requestSignal }) => this.onPermissionRequest(params, requestSignal));
    this.connection = app.connect(acp.ndJsonStream(Writable.toWeb(child.stdin), input));
    this.initializeResponse = await this.boundHandshake(
      this.connection.agent.request(acp.methods.agent.initialize, {
        protocolVersion: acp.PROTOCOL_VERSION,
        // Terminal logins are never run by us, but listing them lets the message name the command to run.
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false, auth: { terminal: true } },
        clientInfo: { name: 'agent-pool', version: '0.1.0' },
      }),
      signal,
      (error) => (isAgentRpcError(error) ? this.rpcError('initialize', error) : undefined),
    );
    this.authMethods = readAuthMethods(this.initializeResponse.authMethods);
    await this.boundHandshake(this.signIn(), signal, (error) => (isAgentRpcError(error) ? this.rpcError('authenticate', error) : undefined));
    this.ready = true;
    this.log('info', `ready: pid ${child.pid}, protocol ${this.initializeResponse.protocolVersion}`);
    this.log('info', `agent says: ${describeAgent(this.initializeResponse, this.authMethods)}`);
  }

  /**
   * Calls `authenticate` before any session when a method fits (see signIn.ts): codex-acp takes
   * OPENAI_API_KEY only this way. The log names the method and its variable, never the value.
   */
  private async signIn(): Promise<void> {
    const choice = chooseSignIn(this.authMethods, this.profile, process.env);
    if (choice.action === 'unknown-method') {
      const offered = this.authMethods.map((method) => `"${method.id}"`).join(', ') || 'none';
      throw new AgentError('AGENT_AUTH_REQUIRED', `Agent profile "${this.profile.name}" asks for sign-in method "${choice.requested}", which the agent does not offer (it offers ${offered}).`, {
        profile: this.profile.name,
        command: this.profile.command,
        advice: {
          vscode: `Set agentPool.profiles.${this.profile.name}.authMethod to one of them, or remove it to let the pool choose.`,
          cli: `Set "authMethod" of profile "${this.profile.name}" in the --profiles FILE to one of them, or remove it to let the pool choose.`,
        },
      });
    }
    if (choice.action === 'none') {
      if (this.authMethods.length > 0) this.log('debug', `not signing in: ${choice.why}`);
      return;
    }
    this.log('info', `signing in with method "${choice.method.id}" (${choice.why})`);
    await this.connection!.agent.request(this.methods.agent.authenticate, { methodId: choice.method.id });
    this.signedInWith = choice.method.id;
  }

  async openSession(options: { cwd: string }): Promise<string> {
    const response = await this.sessionRequest(this.methods.agent.session.new, { cwd: options.cwd, mcpServers: [] });
    return response.sessionId;
  }

  sessionSupport(): SessionSupport {
    const capabilities = this.initializeResponse?.agentCapabilities;
    const session = capabilities?.sessionCapabilities;
    return { resume: Boolean(session?.resume), load: capabilities?.loadSession === true, close: Boolean(session?.close), list: Boolean(session?.list) };
  }

  async resumeSession(request: ResumeRequest): Promise<'resumed' | 'loaded'> {
    const support = this.sessionSupport();
    const { sessionId, cwd } = request;
    let how: 'resumed' | 'loaded';
    if (support.resume) {
      await this.sessionRequest(this.methods.agent.session.resume, { sessionId, cwd, mcpServers: [] });
      how = 'resumed';
    } else if (support.load) {
      // The agent replays the history as session/update notifications; no turn is open, so they go nowhere.
      await this.sessionRequest(this.methods.agent.session.load, { sessionId, cwd, mcpServers: [] });
      how = 'loaded';
    } else {
      throw new AgentError('AGENT_REQUEST_FAILED', `Agent profile "${this.profile.name}" can neither resume nor load sessions (it advertises no loadSession or sessionCapabilities.resume).`, {
        profile: this.profile.name,
        command: this.profile.command,
      });
    }
    if (request.sessionCostUsd !== undefined) this.sessionCosts.set(sessionId, request.sessionCostUsd);
    return how;
  }

  async closeSession(sessionId: string): Promise<boolean> {
    this.sessionCosts.delete(sessionId);
    if (!this.sessionSupport().close) return false;
    await this.sessionRequest(this.methods.agent.session.close, { sessionId });
    return true;
  }

  /**
   * A session request bounded by the handshake timeout: real agents do slow work here
   * (claude-agent-acp takes ~2 s for session/new), and one that never answers must not hold the pool.
   */
  private async sessionRequest(method: 'session/new', params: Acp.NewSessionRequest): Promise<Acp.NewSessionResponse>;
  private async sessionRequest(method: 'session/load' | 'session/resume', params: Acp.LoadSessionRequest): Promise<unknown>;
  private async sessionRequest(method: 'session/close', params: Acp.CloseSessionRequest): Promise<unknown>;
  private async sessionRequest(method: string, params: object): Promise<unknown> {
    const connection = this.requireConnection();
    const abandon = new AbortController();
    // Like the handshake's own bound: only time this process could run counts (a frozen window's agent is not failed).
    const timer = setUnfrozenTimeout(() => abandon.abort(), this.profile.handshakeTimeoutMs);
    try {
      // One path for the four methods; the overloads above keep each caller's types exact.
      const request = connection.agent.request as (method: string, params: object, options: object) => Promise<unknown>;
      return await request.call(connection.agent, method, params, { cancellationSignal: abandon.signal, stopWaitingOnCancel: true });
    } catch (error) {
      if (abandon.signal.aborted) {
        throw new AgentError(
          'AGENT_HANDSHAKE_TIMEOUT',
          `Agent profile "${this.profile.name}" did not answer ${method} within ${this.profile.handshakeTimeoutMs} ms; raise agentPool.profiles.${this.profile.name}.handshakeTimeoutMs if it is slow to open sessions.`,
          { profile: this.profile.name, command: this.profile.command, cause: error },
        );
      }
      if (isAgentRpcError(error) && error.code === RESOURCE_NOT_FOUND) {
        throw new AgentError('AGENT_SESSION_NOT_FOUND', `Agent profile "${this.profile.name}" no longer has session ${String((params as { sessionId?: string }).sessionId)} (${method}: ${error.message}).`, {
          profile: this.profile.name,
          command: this.profile.command,
          rpcCode: error.code,
          cause: error,
        });
      }
      throw isAgentRpcError(error) ? this.rpcError(method, error) : await this.crashError(method, error);
    } finally {
      timer.cancel();
    }
  }

  async prompt(request: PromptRequest): Promise<PromptResult> {
    const connection = this.requireConnection();
    const { sessionId } = request;
    if (this.turns.has(sessionId)) {
      throw new AgentError('AGENT_REQUEST_FAILED', `Agent profile "${this.profile.name}": session ${sessionId} already has a turn open.`, { profile: this.profile.name });
    }
    const turn: OpenTurn = { onEvent: request.onEvent, text: [], sentAt: performance.now(), firstEventAt: undefined, usage: undefined, updates: new Map() };
    this.turns.set(sessionId, turn);
    const { signal } = request;
    // Only when there is a signal: a listener per warm prompt is measurable.
    const onAbort = signal ? cancelOnAbort(this, sessionId) : undefined;
    if (onAbort) signal!.addEventListener('abort', onAbort, { once: true });
    try {
      if (onAbort && signal!.aborted) onAbort();
      this.log('debug', `session/prompt ${sessionId}: sent, ${request.text.length} characters`);
      const response = await connection.agent.request(this.methods.agent.session.prompt, { sessionId, prompt: [{ type: 'text', text: request.text }] });
      const finishedAt = performance.now();
      this.log('debug', `session/prompt ${sessionId}: ${response.stopReason} after ${Math.round(finishedAt - turn.sentAt)} ms; updates: ${describeCounts(turn.updates)}`);
      return {
        stopReason: response.stopReason,
        text: turn.text.join(''),
        firstEventMs: turn.firstEventAt === undefined ? undefined : turn.firstEventAt - turn.sentAt,
        totalMs: finishedAt - turn.sentAt,
        usage: this.usageOf(sessionId, response, turn.usage),
      };
    } catch (error) {
      throw isAgentRpcError(error) ? this.rpcError('session/prompt', error) : await this.crashError('a turn', error);
    } finally {
      this.turns.delete(sessionId);
      if (onAbort) signal!.removeEventListener('abort', onAbort);
    }
  }

  async cancel(sessionId: string): Promise<void> {
    for (const pending of this.pendingPermissions.get(sessionId) ?? []) pending.abort();
    if (!this.connection || !this.ready) return;
    try {
      await this.connection.agent.notify(this.methods.agent.session.cancel, { sessionId });
    } catch (error) {
      this.log('debug', `session/cancel not sent: ${String(error)}`);
    }
  }

  override async kill(graceMs = 2000): Promise<void> {
    for (const pending of this.pendingPermissions.values()) for (const controller of pending) controller.abort();
    await super.kill(graceMs);
    this.connection?.close();
  }

  private requireConnection(): Acp.ClientConnection {
    if (!this.connection || !this.ready || !this.child || this.child.hasExited) throw this.notRunning();
    return this.connection;
  }

  private onSessionUpdate(notification: Acp.SessionNotification): void {
    const turn = this.turns.get(notification.sessionId);
    if (!turn) return;
    turn.firstEventAt ??= performance.now();
    const update = notification.update;
    turn.updates.set(update.sessionUpdate, (turn.updates.get(update.sessionUpdate) ?? 0) + 1);
    let event: AgentStreamEvent;
    switch (update.sessionUpdate) {
      case 'agent_message_chunk':
        if (update.content.type === 'text') turn.text.push(update.content.text);
        event = { kind: 'text', text: update.content.type === 'text' ? update.content.text : undefined, raw: update };
        break;
      case 'agent_thought_chunk':
        event = { kind: 'thought', text: update.content.type === 'text' ? update.content.text : undefined, raw: update };
        break;
      case 'tool_call':
        event = { kind: 'tool-call', text: update.title, raw: update };
        break;
      case 'tool_call_update':
        event = { kind: 'tool-call-update', text: update.title ?? undefined, raw: update };
        break;
      case 'plan':
        event = { kind: 'plan', raw: update };
        break;
      case 'usage_update':
        turn.usage = update;
        event = { kind: 'other', raw: update };
        break;
      default:
        event = { kind: 'other', raw: update };
    }
    turn.onEvent?.(event);
  }

  private async onPermissionRequest(params: Acp.RequestPermissionRequest, requestSignal: AbortSignal): Promise<Acp.RequestPermissionResponse> {
    const controller = new AbortController();
    let pending = this.pendingPermissions.get(params.sessionId);
    if (!pending) this.pendingPermissions.set(params.sessionId, (pending = new Set()));
    pending.add(controller);
    const signal = AbortSignal.any([controller.signal, requestSignal]);
    const request: PermissionRequest = {
      profile: this.profile.name,
      sessionId: params.sessionId,
      toolCall: { title: params.toolCall.title ?? undefined, kind: params.toolCall.kind ?? undefined, toolCallId: params.toolCall.toolCallId, raw: params.toolCall },
      options: params.options.map((option) => ({ optionId: option.optionId, name: option.name, kind: option.kind })),
    };
    try {
      const optionId = await decidePermission(this.profile.permissionPolicy, request, this.options.permissionHandler, signal);
      this.log('debug', `permission for ${request.toolCall.kind ?? 'tool'} "${request.toolCall.title ?? ''}": ${optionId ?? 'cancelled'}`);
      return { outcome: optionId === undefined || signal.aborted ? { outcome: 'cancelled' } : { outcome: 'selected', optionId } };
    } catch (error) {
      this.log('warn', `permission handler failed, rejecting: ${String(error)}`);
      const reject = request.options.find((option) => option.kind.startsWith('reject'));
      return { outcome: reject ? { outcome: 'selected', optionId: reject.optionId } : { outcome: 'cancelled' } };
    } finally {
      pending.delete(controller);
      if (pending.size === 0) this.pendingPermissions.delete(params.sessionId);
    }
  }

  /**
   * Stable ACP v1 has no per-turn tokens (agents on the unstable schema add `usage` to the response);
   * usage_update's cost is the session's running total, so the turn's cost is the difference from the
   * total reported before. A total below the last one means the agent started counting afresh.
   */
  private usageOf(sessionId: string, response: Acp.PromptResponse, update: Acp.UsageUpdate | undefined): TokenUsage | undefined {
    const tokens = (response as { usage?: { inputTokens?: number; outputTokens?: number } }).usage;
    if (!tokens && !update) return undefined;
    const usage: TokenUsage = { inputTokens: tokens?.inputTokens, outputTokens: tokens?.outputTokens };
    if (update) {
      usage.contextUsed = update.used;
      usage.contextSize = update.size;
      if (update.cost?.currency === 'USD') {
        const total = update.cost.amount;
        const before = this.sessionCosts.get(sessionId) ?? 0;
        usage.costUsd = total >= before ? roundUsd(total - before) : total;
        usage.sessionCostUsd = total;
        this.sessionCosts.set(sessionId, total);
      }
    }
    return usage;
  }

  /**
   * The agent's JSON-RPC error as one message: the method, the code, the agent's text and its own
   * detail (`data`), keys blanked; for an auth failure, the sign-in methods the agent offers.
   */
  private rpcError(method: string, error: Acp.RequestError): AgentError {
    const code = classifyAgentFailure(error.message, error.code, error.data);
    const detail = describeAgentData(error.data);
    const text = this.redact(asSentence(`${error.message}${detail ? ` (${detail})` : ''}`));
    const advice = code === 'AGENT_AUTH_REQUIRED' ? signInAdvice(this.authMethods, this.profile) : adviceFor(code, this.profile.name);
    const signedIn = code === 'AGENT_AUTH_REQUIRED' && this.signedInWith ? ` It was signed in with method "${this.signedInWith}".` : '';
    return new AgentError(code, `Agent profile "${this.profile.name}" answered ${method} with error ${error.code}: ${text}${signedIn}`, {
      profile: this.profile.name,
      command: this.profile.command,
      rpcCode: error.code,
      agentDetail: detail === undefined ? undefined : this.redact(detail),
      advice,
      cause: error,
    });
  }
}

function cancelOnAbort(agent: AcpAgent, sessionId: string): () => void {
  return () => void agent.cancel(sessionId);
}

/** Float differences of running totals (0.03 - 0.02) rounded to a billionth of a dollar. */
function roundUsd(amount: number): number {
  return Math.round(amount * 1e9) / 1e9;
}

/** "codex-acp 0.16.0; loadSession; sessions: list, resume, close; sign-in: chatgpt (agent), openai-api-key (env_var OPENAI_API_KEY)" */
function describeAgent(response: Acp.InitializeResponse, methods: readonly OfferedAuthMethod[]): string {
  const info = response.agentInfo;
  const capabilities = response.agentCapabilities;
  const sessions = Object.keys(capabilities?.sessionCapabilities ?? {}).filter((key) => key !== '_meta');
  return [
    info ? `${info.name} ${info.version}` : 'unnamed agent',
    capabilities?.loadSession ? 'loadSession' : 'no loadSession',
    `sessions: ${sessions.length ? sessions.join(', ') : 'none'}`,
    `sign-in: ${methods.length ? methods.map((m) => `${m.id} (${m.kind}${m.variables.length ? ` ${m.variables.join(', ')}` : ''})`).join(', ') : 'none'}`,
  ].join('; ');
}

/** A JSON-RPC error the agent sent, as opposed to the SDK's own "connection closed". */
function isAgentRpcError(error: unknown): error is Acp.RequestError {
  return error instanceof Error && typeof (error as { code?: unknown }).code === 'number';
}

function describeCounts(counts: ReadonlyMap<string, number>): string {
  return counts.size === 0 ? 'none' : [...counts].map(([kind, count]) => `${count} ${kind}`).join(', ');
}
