import * as assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentConnection } from '../../../src/core/agents/adapter';
import { ConnectionTracker, demoProfile, rejectionOf, requireBuild } from './helpers';

/**
 * Sessions that outlive the process that opened them, through the real ACP SDK on both sides: the
 * demo agent keeps its sessions in a directory, as claude-agent-acp and codex-acp keep theirs.
 */
describe('ACP sessions across demo-agent processes', function () {
  this.timeout(15_000);
  const tracker = new ConnectionTracker();
  let sessionDirectory: string;
  before(requireBuild);
  beforeEach(() => {
    sessionDirectory = mkdtempSync(path.join(os.tmpdir(), 'demo-sessions-'));
  });
  afterEach(async () => {
    await tracker.disposeAll();
    rmSync(sessionDirectory, { recursive: true, force: true });
  });

  async function started(env: Record<string, string> = {}): Promise<AgentConnection> {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_SESSION_DIR: sessionDirectory, ...env }));
    await agent.start();
    return agent;
  }

  async function say(agent: AgentConnection, sessionId: string, text: string): Promise<string> {
    const result = await agent.prompt({ sessionId, text });
    assert.equal(result.stopReason, 'end_turn');
    return result.text;
  }

  it('advertises loadSession and resume, list and close, and none of them when started without', async () => {
    const full = await started();
    assert.deepEqual(full.sessionSupport!(), { resume: true, load: true, close: true, list: true });
    const loadOnly = await started({ DEMO_AGENT_SESSION_SUPPORT: 'load' });
    assert.deepEqual(loadOnly.sessionSupport!(), { resume: false, load: true, close: false, list: false });
    const none = await started({ DEMO_AGENT_SESSION_SUPPORT: 'none' });
    assert.deepEqual(none.sessionSupport!(), { resume: false, load: false, close: false, list: false });
  });

  it('recall answers with the earlier prompts of the session only', async () => {
    const agent = await started();
    const session = await agent.openSession({ cwd: os.tmpdir() });
    const other = await agent.openSession({ cwd: os.tmpdir() });
    assert.equal(await say(agent, session, '/demo recall'), '(nothing earlier in this session)');
    await say(agent, session, 'alpha');
    await say(agent, other, 'not this one');
    await say(agent, session, 'beta');
    assert.equal(await say(agent, session, '/demo recall'), '/demo recall\nalpha\nbeta');
  });

  it('a session resumes in a new process after the first one was SIGKILLed, with its earlier prompts', async () => {
    const first = await started();
    const sessionId = await first.openSession({ cwd: os.tmpdir() });
    await say(first, sessionId, 'alpha');
    await say(first, sessionId, 'beta');
    process.kill(first.process!.pid, 'SIGKILL');
    const second = await started();
    assert.equal(await second.resumeSession!({ sessionId, cwd: os.tmpdir() }), 'resumed');
    assert.equal(await say(second, sessionId, '/demo recall'), 'alpha\nbeta');
  });

  it('falls back to session/load where resume is not advertised; the replay does not leak into the next answer', async () => {
    const first = await started();
    const sessionId = await first.openSession({ cwd: os.tmpdir() });
    await say(first, sessionId, 'alpha');
    await first.kill(0);
    const second = await started({ DEMO_AGENT_SESSION_SUPPORT: 'load' });
    assert.equal(await second.resumeSession!({ sessionId, cwd: os.tmpdir() }), 'loaded');
    assert.equal(await say(second, sessionId, 'gamma'), 'gamma');
    assert.equal(await say(second, sessionId, '/demo recall'), 'alpha\ngamma');
  });

  it('an agent without resume support refuses clearly, and a session that is gone is AGENT_SESSION_NOT_FOUND', async () => {
    const none = await started({ DEMO_AGENT_SESSION_SUPPORT: 'none' });
    const refused = await rejectionOf(none.resumeSession!({ sessionId: 'demo-1-1-abcdef', cwd: os.tmpdir() }));
    assert.equal(refused.code, 'AGENT_REQUEST_FAILED');
    assert.match(refused.message, /profile "demo" can neither resume nor load sessions/);
    const full = await started();
    const missing = await rejectionOf(full.resumeSession!({ sessionId: 'demo-1-1-abcdef', cwd: os.tmpdir() }));
    assert.equal(missing.code, 'AGENT_SESSION_NOT_FOUND');
    assert.match(missing.message, /no longer has session demo-1-1-abcdef/);
  });

  it('session/close ends a session for every process: it can no longer be resumed', async () => {
    const first = await started();
    const sessionId = await first.openSession({ cwd: os.tmpdir() });
    await say(first, sessionId, 'alpha');
    assert.equal(await first.closeSession!(sessionId), true);
    assert.equal((await rejectionOf(first.prompt({ sessionId, text: 'more' }))).code, 'AGENT_REQUEST_FAILED');
    const second = await started();
    assert.equal((await rejectionOf(second.resumeSession!({ sessionId, cwd: os.tmpdir() }))).code, 'AGENT_SESSION_NOT_FOUND');
    const none = await started({ DEMO_AGENT_SESSION_SUPPORT: 'none' });
    assert.equal(await none.closeSession!(await none.openSession({ cwd: os.tmpdir() })), false);
  });

  it('usage_update is cumulative: each turn costs its difference, and used/size are kept', async () => {
    const agent = await started();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const usages = [];
    for (const text of ['/demo usage=0.01\none', '/demo usage=0.01\ntwo', '/demo usage=0.01\nthree']) usages.push((await agent.prompt({ sessionId, text })).usage);
    assert.deepEqual(
      usages.map((u) => u?.costUsd),
      [0.01, 0.01, 0.01],
    );
    assert.deepEqual(
      usages.map((u) => u?.sessionCostUsd),
      [0.01, 0.02, 0.03],
    );
    assert.deepEqual([usages[2]!.contextUsed, usages[2]!.contextSize], [15_000, 200_000]);
    // Another process continues the running total; told the last one, it counts only the new turn.
    await agent.kill(0);
    const next = await started();
    await next.resumeSession!({ sessionId, cwd: os.tmpdir(), sessionCostUsd: 0.03 });
    const fourth = (await next.prompt({ sessionId, text: '/demo usage=0.02\nfour' })).usage!;
    assert.deepEqual([fourth.costUsd, fourth.sessionCostUsd, fourth.contextUsed], [0.02, 0.05, 20_000]);
  });

  it('rejects a bad DEMO_AGENT_SESSION_SUPPORT at start, naming the variable', async () => {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_SESSION_DIR: sessionDirectory, DEMO_AGENT_SESSION_SUPPORT: 'some' }));
    const error = await rejectionOf(agent.start());
    assert.equal(error.code, 'AGENT_EXITED_AT_START');
    assert.match(error.message, /DEMO_AGENT_SESSION_SUPPORT=some is not one of full, load, none/);
  });
});
