import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import type { AgentExit, AgentStreamEvent, PermissionRequest } from '../../../src/core/agents/adapter';
import { waitForEvent } from '../../../src/core/common/event';
import { isProcessRunning } from '../../../src/core/process/tree';
import { ConnectionTracker, demoProfile, rejectionOf, requireBuild, waitForProcessGone } from './helpers';

describe('ACP adapter with the demo agent', function () {
  this.timeout(30_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());

  async function startedDemo(env: Record<string, string> = {}, options: Parameters<ConnectionTracker['create']>[1] = {}, profile = demoProfile({}, env)) {
    const agent = tracker.create(profile, options);
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    return { agent, sessionId };
  }

  it('becomes ready from the initialize handshake and reports its process', async () => {
    const agent = tracker.create(demoProfile());
    const spawned: number[] = [];
    agent.onDidSpawn((identity) => spawned.push(identity.pid));
    assert.equal(agent.health().ready, false);
    await agent.start();
    const health = agent.health();
    assert.equal(health.alive, true);
    assert.equal(health.ready, true);
    assert.ok(agent.process && agent.process.startTime.length > 0);
    assert.deepEqual(spawned, [agent.process.pid]);
    assert.ok(isProcessRunning(agent.process.pid));
  });

  it('echoes a prompt streamed in chunks, with time to first event', async () => {
    const { agent, sessionId } = await startedDemo();
    const events: AgentStreamEvent[] = [];
    const result = await agent.prompt({ sessionId, text: '/demo chunks=4 latency=40\nhello pool world', onEvent: (event) => events.push(event) });
    assert.equal(result.stopReason, 'end_turn');
    assert.equal(result.text, 'hello pool world');
    assert.deepEqual(events.map((event) => event.kind), ['text', 'text', 'text', 'text']);
    assert.equal(events.map((event) => event.text).join(''), 'hello pool world');
    assert.ok(result.firstEventMs !== undefined && result.firstEventMs >= 5 && result.firstEventMs < result.totalMs, `first ${result.firstEventMs} total ${result.totalMs}`);
    assert.ok(result.totalMs >= 35, `total ${result.totalMs}`);
    // The agent stays warm: a second turn on the same process works.
    const second = await agent.prompt({ sessionId, text: 'again' });
    assert.equal(second.text, 'again');
  });

  it('maps thought and tool-call updates to their event kinds', async () => {
    const { agent, sessionId } = await startedDemo();
    const kinds: string[] = [];
    await agent.prompt({ sessionId, text: '/demo thought tool\nx', onEvent: (event) => kinds.push(event.kind) });
    assert.deepEqual(kinds, ['thought', 'tool-call', 'tool-call-update', 'text']);
  });

  it('cancels a hanging turn: prompt resolves with cancelled', async () => {
    const { agent, sessionId } = await startedDemo();
    let markFirstEvent!: () => void;
    const firstEvent = new Promise<void>((resolve) => (markFirstEvent = resolve));
    const pending = agent.prompt({ sessionId, text: '/demo thought hang\n', onEvent: () => markFirstEvent() });
    await firstEvent;
    const cancelledAt = performance.now();
    await agent.cancel(sessionId);
    const result = await pending;
    assert.equal(result.stopReason, 'cancelled');
    assert.ok(performance.now() - cancelledAt < 500);
    assert.equal(agent.health().alive, true);
  });

  it('cancels through the request AbortSignal', async () => {
    const { agent, sessionId } = await startedDemo();
    const controller = new AbortController();
    const result = await agent.prompt({ sessionId, text: '/demo thought hang\n', signal: controller.signal, onEvent: () => controller.abort() });
    assert.equal(result.stopReason, 'cancelled');
  });

  it('surfaces a crash mid-turn as AGENT_CRASHED and an exit event with the stderr tail', async () => {
    const { agent, sessionId } = await startedDemo();
    const exit = waitForEvent<AgentExit>(agent.onDidExit);
    const texts: string[] = [];
    const error = await rejectionOf(agent.prompt({ sessionId, text: '/demo chunks=4 crash=2 exitcode=9\nabcdefgh', onEvent: (event) => texts.push(event.text ?? '') }));
    assert.equal(error.code, 'AGENT_CRASHED');
    assert.match(error.message, /demo.*exited \(code 9\)/);
    assert.match(error.stderrTail ?? '', /simulated crash mid-turn after 2 chunk/);
    assert.deepEqual(texts, ['ab', 'cd']);
    const exited = await exit;
    assert.equal(exited.exitCode, 9);
    assert.equal(exited.expected, false);
    assert.match(exited.stderrTail, /simulated crash/);
    assert.equal(agent.health().alive, false);
    assert.equal((await rejectionOf(agent.prompt({ sessionId, text: 'x' }))).code, 'AGENT_NOT_RUNNING');
  });

  it('reports an agent that exits at once as AGENT_EXITED_AT_START with its stderr', async () => {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_EXIT_AT_START: '7' }));
    const error = await rejectionOf(agent.start());
    assert.equal(error.code, 'AGENT_EXITED_AT_START');
    assert.match(error.message, /Agent profile "demo".*exited at start \(code 7\)/);
    assert.match(error.message, /DEMO_AGENT_EXIT_AT_START=7/);
    assert.match(error.message, /agentPool\.profiles\.demo/);
  });

  it('reports a missing binary as AGENT_BINARY_NOT_FOUND naming profile, command and setting', async () => {
    const agent = tracker.create(demoProfile({ name: 'mine', command: 'no-such-agent-binary-4711', args: [] }));
    const spawned: unknown[] = [];
    agent.onDidSpawn((identity) => spawned.push(identity));
    const error = await rejectionOf(agent.start());
    assert.equal(error.code, 'AGENT_BINARY_NOT_FOUND');
    assert.match(error.message, /"mine"/);
    assert.match(error.message, /no-such-agent-binary-4711/);
    assert.match(error.message, /agentPool\.profiles\.mine\.command/);
    assert.deepEqual(spawned, []);
  });

  it('times out a handshake that never comes and leaves no process behind', async () => {
    const agent = tracker.create(demoProfile({ handshakeTimeoutMs: 500 }, { DEMO_AGENT_START_DELAY_MS: '20000' }));
    let pid: number | undefined;
    agent.onDidSpawn((identity) => (pid = identity.pid));
    const started = performance.now();
    const error = await rejectionOf(agent.start());
    const elapsed = performance.now() - started;
    assert.equal(error.code, 'AGENT_HANDSHAKE_TIMEOUT');
    assert.match(error.message, /within 500 ms.*agentPool\.profiles\.demo\.handshakeTimeoutMs/);
    assert.ok(elapsed >= 490 && elapsed < 3000, `elapsed ${elapsed}`);
    assert.ok(pid !== undefined);
    await waitForProcessGone(pid, 2000);
  });

  it('bounds session/new by the handshake timeout, and the agent stays usable', async () => {
    // The timeout also bounds start(), so it leaves room for a slow start on a loaded machine.
    // A node start took over 3 s at load 20-30 on two cores: 6 s leaves room, and the agent's delay is far beyond it.
    const agent = tracker.create(demoProfile({ handshakeTimeoutMs: 6000 }, { DEMO_AGENT_SESSION_DELAY_MS: '30000' }));
    await agent.start();
    const started = performance.now();
    const error = await rejectionOf(agent.openSession({ cwd: os.tmpdir() }));
    assert.equal(error.code, 'AGENT_HANDSHAKE_TIMEOUT');
    assert.match(error.message, /session\/new within 6000 ms/);
    assert.ok(performance.now() - started < 15_000, 'openSession waited for the slow agent instead of its timeout');
    assert.equal(agent.health().alive, true);
  });

  it('a slow start within the timeout still becomes ready', async () => {
    const agent = tracker.create(demoProfile({ handshakeTimeoutMs: 10_000 }, { DEMO_AGENT_START_DELAY_MS: '300' }));
    const started = performance.now();
    await agent.start();
    assert.ok(performance.now() - started >= 300);
    assert.equal(agent.health().ready, true);
  });

  describe('permission policies', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['allowAll', 'edit', /permission granted \(allow\)/],
      ['reject', 'read', /permission denied \(reject\)/],
      ['allowReadOnly', 'read', /permission granted \(allow\)/],
      ['allowReadOnly', 'execute', /permission denied \(reject\)/],
      ['ask', 'edit', /permission denied \(reject\)/], // no handler: refuse
    ];
    for (const [policy, kind, expected] of cases) {
      it(`${policy} answers a ${kind} request`, async () => {
        const { agent, sessionId } = await startedDemo({}, {}, demoProfile({ permissionPolicy: policy as never }));
        const result = await agent.prompt({ sessionId, text: `/demo permission=${kind}\n` });
        assert.match(result.text, expected);
      });
    }

    it('ask hands the request to the handler and uses its answer', async () => {
      const seen: PermissionRequest[] = [];
      const { agent, sessionId } = await startedDemo({}, { permissionHandler: async (request) => (seen.push(request), { optionId: 'allow-always' }) });
      const result = await agent.prompt({ sessionId, text: '/demo permission=edit\n' });
      assert.match(result.text, /permission granted \(allow-always\)/);
      assert.equal(seen.length, 1);
      assert.equal(seen[0]!.profile, 'demo');
      assert.equal(seen[0]!.toolCall.kind, 'edit');
      assert.deepEqual(seen[0]!.options.map((option) => option.kind), ['allow_once', 'allow_always', 'reject_once']);
    });

    it('cancel while a permission request is pending cancels it and ends the turn', async () => {
      let handlerSignal: AbortSignal | undefined;
      let markAsked!: () => void;
      const asked = new Promise<void>((resolve) => (markAsked = resolve));
      const { agent, sessionId } = await startedDemo(
        {},
        {
          permissionHandler: (_request, signal) => {
            handlerSignal = signal;
            markAsked();
            return new Promise((resolve) => signal.addEventListener('abort', () => resolve({})));
          },
        },
      );
      const turn = agent.prompt({ sessionId, text: '/demo permission=edit\n' });
      await asked;
      await agent.cancel(sessionId);
      const result = await turn;
      assert.equal(result.stopReason, 'cancelled');
      assert.equal(handlerSignal?.aborted, true);
    });
  });

  describe('error mapping', () => {
    it('maps "Authentication required" at prompt to AGENT_AUTH_REQUIRED and stays alive', async () => {
      const { agent, sessionId } = await startedDemo();
      const error = await rejectionOf(agent.prompt({ sessionId, text: '/demo error=auth\n' }));
      assert.equal(error.code, 'AGENT_AUTH_REQUIRED');
      assert.match(error.message, /Agent profile "demo".*-32000.*Authentication required.*agentPool\.profiles\.demo\.env/);
      assert.equal(agent.health().alive, true);
    });

    it('maps a 429 at prompt to AGENT_RATE_LIMITED', async () => {
      const { agent, sessionId } = await startedDemo();
      const error = await rejectionOf(agent.prompt({ sessionId, text: '/demo error=rate-limit\n' }));
      assert.equal(error.code, 'AGENT_RATE_LIMITED');
    });

    it('maps an auth failure at session/new (like gemini without a key)', async () => {
      const agent = tracker.create(demoProfile({}, { DEMO_AGENT_SESSION_ERROR: 'auth' }));
      await agent.start();
      const error = await rejectionOf(agent.openSession({ cwd: os.tmpdir() }));
      assert.equal(error.code, 'AGENT_AUTH_REQUIRED');
    });

    it('maps other agent errors to AGENT_REQUEST_FAILED', async () => {
      const { agent, sessionId } = await startedDemo();
      const error = await rejectionOf(agent.prompt({ sessionId, text: '/demo error=internal\n' }));
      assert.equal(error.code, 'AGENT_REQUEST_FAILED');
    });
  });

  it('kill stops the agent with an expected exit event', async () => {
    const { agent } = await startedDemo();
    const pid = agent.process!.pid;
    const exit = waitForEvent<AgentExit>(agent.onDidExit);
    await agent.kill(1000);
    const exited = await exit;
    assert.equal(exited.expected, true);
    assert.equal(exited.signal, 'SIGTERM');
    assert.equal(isProcessRunning(pid), false);
    assert.equal(agent.process, undefined);
  });
});
