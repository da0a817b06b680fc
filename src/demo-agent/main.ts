/**
 * The demo agent (dist/demo-agent.js): a real ACP agent written with the SDK's agent side, with no
 * model, no network and no keys. It echoes prompts and, on request, misbehaves the way real agents
 * do, so the pool can be tested and benchmarked against the exact wire protocol. Directives are
 * documented in directives.ts; start-time behaviour comes from the environment:
 *   DEMO_AGENT_START_DELAY_MS  wait this long before answering `initialize` (slow start)
 *   DEMO_AGENT_EXIT_AT_START   exit at once with this code, after a line on stderr
 *   DEMO_AGENT_SESSION_ERROR   `auth` or `rate-limit`: fail session/new like gemini without a key;
 *                              `internal`: -32603 with the detail in `data`, like claude-agent-acp
 *   DEMO_AGENT_SESSION_DELAY_MS wait this long before answering session/new
 *   DEMO_AGENT_CHILD           `1`: start a helper child process (like codex-acp's native binary)
 *   DEMO_AGENT_SESSION_DIR     where sessions are kept, so a new process can load or resume them
 *                              (default: a per-user directory under the system temp directory)
 *   DEMO_AGENT_SESSION_SUPPORT `full` (default: loadSession, resume, list, close), `load` (loadSession
 *                              only) or `none` (nothing survives the process, like an agent without them)
 *   DEMO_AGENT_CONTEXT_SIZE    the context window reported in usage_update (default 200000 tokens)
 *   DEMO_AGENT_AUTH            `required`: list sign-in methods like codex-acp and claude-agent-acp and
 *                              refuse session/new until `authenticate` succeeded: `demo-api-key`
 *                              (env_var, reads DEMO_API_KEY; a key starting with `bad` is rejected,
 *                              quoted back in the error's data as careless agents do), `demo-oauth`
 *                              (agent-side login, always succeeds) and, when the client can do
 *                              terminal logins, `demo-login` (terminal: `<demo agent> --login`).
 * Run with `--login`, it plays a terminal login: prints a line and exits 0.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { Worker } from 'node:worker_threads';
import type * as Acp from '@agentclientprotocol/sdk' with { 'resolution-mode': 'import' };
import { DirectiveError, behaviourFromEnvironment, parsePrompt, splitIntoChunks, type TurnBehaviour } from './directives';
import { DemoSessionStore, defaultSessionDirectory, type DemoSession } from './sessionStore';

const retainedMemory: Buffer[] = [];
/** The `spin` directive's threads: each keeps a core busy, also while the agent idles, until the process exits. */
const spinners: Worker[] = [];

function spinUpTo(threads: number): void {
  while (spinners.length < threads) {
    const worker = new Worker('for (;;) {}', { eval: true });
    worker.unref();
    spinners.push(worker);
  }
}
const openTurns = new Map<string, AbortController>();
/** The sessions this process serves: opened here, or loaded or resumed from the store. */
const sessions = new Map<string, DemoSession>();
let sessionCounter = 0;
/** Context tokens a turn adds in the demo's usage reports: three turns make "15k/200k (7.5%)". */
const TOKENS_PER_TURN = 5000;
const MAX_KEPT_TURNS = 200;
/** Session files untouched this long are removed at start, as real agents age out their history. */
const SESSION_TTL_MS = 24 * 3600_000;

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

async function main(): Promise<void> {
  if (process.argv.includes('--login')) {
    process.stdout.write('demo-agent: logged in (terminal login of the demo agent)\n');
    process.exit(0);
  }
  const exitAtStart = process.env.DEMO_AGENT_EXIT_AT_START;
  if (exitAtStart !== undefined && exitAtStart !== '') {
    process.stderr.write(`demo-agent: exiting at start as asked (DEMO_AGENT_EXIT_AT_START=${exitAtStart})\n`);
    process.exit(Number(exitAtStart) || 1);
  }
  if (process.env.DEMO_AGENT_CHILD === '1') {
    // Inherits our process group: a group kill must take it too, a pid kill would leave it behind.
    spawn(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'], { stdio: 'ignore', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
  }
  const acp = await import('@agentclientprotocol/sdk');
  const { methods, RequestError } = acp;
  const defaults = behaviourFromEnvironment(process.env);
  const startDelayMs = Number(process.env.DEMO_AGENT_START_DELAY_MS ?? 0);
  const sessionError = process.env.DEMO_AGENT_SESSION_ERROR;
  const sessionDelayMs = Number(process.env.DEMO_AGENT_SESSION_DELAY_MS ?? 0);
  const support = process.env.DEMO_AGENT_SESSION_SUPPORT || 'full';
  if (support !== 'full' && support !== 'load' && support !== 'none') {
    process.stderr.write(`demo-agent: DEMO_AGENT_SESSION_SUPPORT=${support} is not one of full, load, none\n`);
    process.exit(2);
  }
  const contextSize = Number(process.env.DEMO_AGENT_CONTEXT_SIZE || 200_000);
  const store = new DemoSessionStore(process.env.DEMO_AGENT_SESSION_DIR || defaultSessionDirectory());
  if (support !== 'none') store.prune(SESSION_TTL_MS);
  /** With support `none` nothing goes to disk: the context dies with the process. */
  const persist = (session: DemoSession) => {
    if (support !== 'none') store.write(session);
  };
  /** A session of this process, or one another process kept: re-read, since that process may have continued it. */
  const stored = (sessionId: string): DemoSession => {
    const session = store.read(sessionId);
    if (!session) throw RequestError.resourceNotFound(sessionId);
    sessions.set(sessionId, session);
    return session;
  };
  const authRequired = process.env.DEMO_AGENT_AUTH === 'required';
  let authenticatedWith: string | undefined;
  let terminalAuth = false;

  const rpcErrorFor = (kind: NonNullable<TurnBehaviour['error']>): Error => {
    switch (kind) {
      case 'auth':
        return RequestError.authRequired();
      case 'rate-limit':
        return new RequestError(-32000, 'Rate limit exceeded: 429 Too Many Requests (demo agent)', { status: 429 });
      case 'internal':
        return RequestError.internalError(undefined, 'demo agent internal error');
    }
  };

  const app = acp
    .agent({ name: 'agent-pool-demo' })
    .onRequest(methods.agent.initialize, async ({ params }) => {
      if (startDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, startDelayMs));
      terminalAuth = params.clientCapabilities?.auth?.terminal === true;
      return {
        protocolVersion: acp.PROTOCOL_VERSION,
        agentCapabilities: {
          loadSession: support !== 'none',
          sessionCapabilities: support === 'full' ? { list: {}, resume: {}, close: {} } : {},
        },
        authMethods: authRequired ? demoAuthMethods(terminalAuth) : [],
        agentInfo: { name: 'agent-pool-demo', version: '1.0.0' },
      };
    })
    .onRequest(methods.agent.authenticate, async ({ params }) => {
      if (!authRequired || !demoAuthMethods(terminalAuth).some((method) => method.id === params.methodId)) {
        throw RequestError.invalidParams(undefined, `unknown sign-in method ${params.methodId}`);
      }
      if (params.methodId === 'demo-login') throw RequestError.invalidParams(undefined, 'demo-login is a terminal login: run it, do not pass it to authenticate');
      if (params.methodId === 'demo-api-key') {
        const key = process.env.DEMO_API_KEY;
        if (!key) throw RequestError.authRequired({ details: 'DEMO_API_KEY is not set' });
        // Like careless real agents: the rejected key is quoted back, so the client must blank it.
        if (key.startsWith('bad')) throw RequestError.authRequired({ details: `the key ${key} was rejected` });
      }
      authenticatedWith = params.methodId;
      process.stderr.write(`demo-agent: signed in with ${params.methodId}\n`);
      return {};
    })
    .onRequest(methods.agent.session.new, async ({ params }) => {
      if (sessionDelayMs > 0) await new Promise((resolve) => setTimeout(resolve, sessionDelayMs));
      if (authRequired && !authenticatedWith) throw RequestError.authRequired({ details: 'call authenticate before session/new' });
      if (sessionError === 'auth' || sessionError === 'rate-limit') throw rpcErrorFor(sessionError);
      // claude-agent-acp under IS_SANDBOX=yes: a bare "Internal error" with the real reason in `data`.
      if (sessionError === 'internal') throw RequestError.internalError({ details: 'Query closed before response received' });
      sessionCounter += 1;
      // Unique across processes: another process may resume it, and pids are reused.
      const sessionId = `demo-${process.pid}-${sessionCounter}-${randomBytes(3).toString('hex')}`;
      const session: DemoSession = { sessionId, cwd: params.cwd, turns: [], costUsd: 0, usedTokens: 0, updatedAt: '' };
      // On disk from its first turn, as claude-agent-acp writes its history: the spare sessions a pool opens ahead leave no files.
      sessions.set(sessionId, session);
      return { sessionId };
    })
    .onRequest(methods.agent.session.load, async ({ params, client }) => {
      if (support === 'none') throw RequestError.methodNotFound(methods.agent.session.load);
      const session = stored(params.sessionId);
      // session/load replays the conversation before it answers, as the spec asks.
      for (const turn of session.turns) {
        await client.notify(methods.client.session.update, { sessionId: session.sessionId, update: { sessionUpdate: 'user_message_chunk', content: { type: 'text', text: turn.prompt } } });
        await client.notify(methods.client.session.update, { sessionId: session.sessionId, update: { sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: turn.answer } } });
      }
      return {};
    })
    .onRequest(methods.agent.session.resume, async ({ params }) => {
      if (support !== 'full') throw RequestError.methodNotFound(methods.agent.session.resume);
      stored(params.sessionId);
      return {};
    })
    .onRequest(methods.agent.session.list, async ({ params }) => {
      if (support !== 'full') throw RequestError.methodNotFound(methods.agent.session.list);
      const listed = store.list(params.cwd ?? undefined);
      return { sessions: listed.map((s) => ({ sessionId: s.sessionId, cwd: s.cwd, title: s.turns[0]?.prompt.slice(0, 60) ?? null, updatedAt: s.updatedAt })) };
    })
    .onRequest(methods.agent.session.close, async ({ params }) => {
      if (support !== 'full') throw RequestError.methodNotFound(methods.agent.session.close);
      openTurns.get(params.sessionId)?.abort();
      sessions.delete(params.sessionId);
      store.delete(params.sessionId);
      return {};
    })
    .onNotification(methods.agent.session.cancel, ({ params }) => {
      openTurns.get(params.sessionId)?.abort();
    })
    .onRequest(methods.agent.session.prompt, async ({ params, client, signal: requestSignal }) => {
      const sessionId = params.sessionId;
      const session = sessions.get(sessionId);
      if (!session) throw RequestError.sessionNotFound(sessionId);
      const promptText = params.prompt.map((block) => (block.type === 'text' ? block.text : '')).join('');
      let parsed;
      try {
        parsed = parsePrompt(promptText, defaults);
      } catch (error) {
        if (error instanceof DirectiveError) throw RequestError.invalidParams(undefined, error.message);
        throw error;
      }
      const { behaviour, text } = parsed;
      if (behaviour.error) throw rpcErrorFor(behaviour.error);

      const turn = new AbortController();
      openTurns.set(sessionId, turn);
      const cancelled = AbortSignal.any([turn.signal, requestSignal]);
      const say = (update: Acp.SessionUpdate) => client.notify(methods.client.session.update, { sessionId, update });
      try {
        if (behaviour.memoryMb > 0) retainedMemory.push(Buffer.alloc(behaviour.memoryMb * 1024 * 1024, 1));
        spinUpTo(behaviour.spinThreads);
        if (behaviour.thought) await say({ sessionUpdate: 'agent_thought_chunk', content: { type: 'text', text: 'thinking about it' } });
        if (behaviour.planEntries > 0) {
          const entries = Array.from({ length: behaviour.planEntries }, (_, index) => ({
            content: `Step ${index + 1}`,
            priority: 'medium' as const,
            status: index === 0 ? ('in_progress' as const) : ('pending' as const),
          }));
          await say({ sessionUpdate: 'plan', entries });
        }
        if (behaviour.tool) {
          await say({ sessionUpdate: 'tool_call', toolCallId: 'demo-tool-1', title: 'Read demo.txt', kind: 'read', status: 'in_progress' });
          await say({ sessionUpdate: 'tool_call_update', toolCallId: 'demo-tool-1', status: 'completed' });
        }
        let answer = text || 'ok';
        if (behaviour.recall) answer = session.turns.length ? session.turns.map((turn) => turn.prompt).join('\n') : '(nothing earlier in this session)';
        if (behaviour.memoryMb > 0) answer = `holding ${retainedMemory.reduce((sum, b) => sum + b.length, 0) / 1048576} MB`;
        if (behaviour.permission) {
          const response = await client.request(
            methods.client.session.requestPermission,
            {
              sessionId,
              toolCall: { toolCallId: 'demo-permission-1', title: `Demo ${behaviour.permission} of demo.txt`, kind: behaviour.permission as Acp.ToolKind, status: 'pending' },
              options: [
                { optionId: 'allow', name: 'Allow once', kind: 'allow_once' },
                { optionId: 'allow-always', name: 'Always allow', kind: 'allow_always' },
                { optionId: 'reject', name: 'Reject', kind: 'reject_once' },
              ],
            },
            { cancellationSignal: cancelled },
          );
          if (cancelled.aborted || response.outcome.outcome === 'cancelled') return { stopReason: 'cancelled' };
          answer = `permission ${response.outcome.optionId.startsWith('allow') ? 'granted' : 'denied'} (${response.outcome.optionId})`;
        }
        if (behaviour.hang) {
          await untilAborted(cancelled);
          return { stopReason: 'cancelled' };
        }
        const pieces = splitIntoChunks(answer, behaviour.chunks);
        const delayPerChunk = behaviour.latency / pieces.length;
        for (let index = 0; index < pieces.length; index++) {
          if (behaviour.crashAfterChunks !== undefined && index === behaviour.crashAfterChunks) crash(behaviour.exitCode, index);
          if (delayPerChunk > 0) await sleep(delayPerChunk, cancelled);
          if (cancelled.aborted) return { stopReason: 'cancelled' };
          await say({ sessionUpdate: 'agent_message_chunk', content: { type: 'text', text: pieces[index]! } });
        }
        if (behaviour.crashAfterChunks !== undefined) crash(behaviour.exitCode, pieces.length);
        session.turns.push({ prompt: promptText, answer });
        // Bounded, so a benchmark's ten thousand turns on one session do not make each write slower.
        if (session.turns.length > MAX_KEPT_TURNS) session.turns.splice(0, session.turns.length - MAX_KEPT_TURNS);
        session.usedTokens = Math.min(contextSize, session.usedTokens + TOKENS_PER_TURN);
        if (behaviour.usageCostUsd !== undefined) {
          session.costUsd = Math.round((session.costUsd + behaviour.usageCostUsd) * 1e9) / 1e9;
          // Cumulative, as ACP defines it: the session's running total, not this turn's share.
          await say({ sessionUpdate: 'usage_update', used: session.usedTokens, size: contextSize, cost: { amount: session.costUsd, currency: 'USD' } });
        }
        persist(session);
        return { stopReason: behaviour.stopReason };
      } finally {
        if (openTurns.get(sessionId) === turn) openTurns.delete(sessionId);
      }
    });

  const connection = app.connect(acp.ndJsonStream(Writable.toWeb(process.stdout), Readable.toWeb(process.stdin) as ReadableStream<Uint8Array>));
  await connection.closed;
  process.exit(0);
}

/** What codex-acp and claude-agent-acp list: a key variable, an agent-side login and (when the client can) a terminal login. */
function demoAuthMethods(terminal: boolean): Acp.AuthMethod[] {
  const methods: Array<Record<string, unknown>> = [
    { type: 'env_var', id: 'demo-api-key', name: 'Use DEMO_API_KEY', description: 'Requires setting the `DEMO_API_KEY` environment variable.', vars: [{ name: 'DEMO_API_KEY' }] },
    { id: 'demo-oauth', name: 'Log in with Demo', description: 'The agent logs in by itself' },
  ];
  if (terminal) methods.push({ type: 'terminal', id: 'demo-login', name: 'Log in to the demo', description: 'Run the demo agent with --login', args: ['--login'] });
  // env_var is newer than the SDK's schema (codex-acp sends it): the wire shape is what matters.
  return methods as unknown as Acp.AuthMethod[];
}

function crash(exitCode: number, chunksSent: number): never {
  process.stderr.write(`demo-agent: simulated crash mid-turn after ${chunksSent} chunk(s), exit code ${exitCode}\n`);
  // Pipes are synchronous on Linux, so the chunks already written reach the client before we go.
  process.exit(exitCode);
}

main().catch((error: unknown) => {
  process.stderr.write(`demo-agent: fatal: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exit(70);
});
