import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/**
 * A lease with a `sessionKey` (the API's acquire) is a conversation like any run: it holds the
 * conversation's shared record until it is released, and writes it back, so another window or the
 * CLI continues where the lease's turns left off. Two services on one registry directory are two windows.
 */
describe('a lease of a conversation uses its shared record (real demo agents)', function () {
  this.timeout(40_000);
  let directory: string;
  let sessions: string;
  const services: AgentPoolService[] = [];
  const logged: string[] = [];

  beforeEach(() => {
    logged.length = 0;
    directory = mkdtempSync(join(tmpdir(), 'ap-conversation-lease-'));
    sessions = mkdtempSync(join(tmpdir(), 'ap-demo-sessions-'));
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.shutdown()));
    rmSync(directory, { recursive: true, force: true });
    rmSync(sessions, { recursive: true, force: true });
  });

  async function window(name: string, env: Record<string, string> = {}): Promise<AgentPoolService> {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      'pool.minAgents': 1,
      'pool.maxAgents': 2,
      profiles: { demo: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_DIR: sessions, ...env } } },
    };
    const { settings, problems } = readSettings((key) => values[key]);
    assert.deepEqual(problems, []);
    const service = new AgentPoolService({
      settings,
      workspace: { name, folders: [process.cwd()] },
      extensionVersion: 'test',
      cwd: process.cwd(),
      distDirectory: DIST,
      spawnBlockedReason: () => undefined,
      log: (level, message) => logged.push(`${level} ${message}`),
    });
    services.push(service);
    await service.start();
    await service.startPool('demo');
    return service;
  }

  it('holds the record while leased (another window is refused, naming the owner), records its turns, and the other window then resumes them', async () => {
    const first = await window('window one');
    const second = await window('window two');
    const lease = await first.acquire({ sessionKey: 'chat' });
    let sessionId: string;
    let recorded: Promise<void>;
    try {
      sessionId = (await lease.prompt('/demo usage=0.01\nalpha')).sessionId;
      await assert.rejects(second.run('/demo recall', { sessionKey: 'chat' }), (error: Error & { code?: string }) => {
        assert.equal(error.code, 'CONVERSATION_BUSY');
        assert.match(error.message, /Conversation "chat" is running a turn in .*window one/);
        return true;
      });
      const beta = await lease.prompt('/demo usage=0.01\nbeta');
      assert.equal(beta.sessionId, sessionId, "every prompt of the lease runs in the conversation's one session");
    } finally {
      recorded = waitForEvent(first.conversations.onDidChange);
      lease.release();
    }
    // Released: the record has both turns, and what they cost (the running total's differences).
    await recorded;
    const record = (await second.conversations.get('chat'))!;
    assert.deepEqual([record.sessionId, record.turns, record.usage.costUsd], [sessionId, 2, 0.02]);
    const recalled = await second.run('/demo usage=0.01 recall', { sessionKey: 'chat' });
    assert.deepEqual([recalled.sessionId, recalled.continuity, recalled.text], [sessionId, 'resumed', '/demo usage=0.01\nalpha\n/demo usage=0.01\nbeta']);
    assert.equal((await second.conversations.get('chat'))!.usage.costUsd, 0.03);
  });

  it('a lease whose conversation lost its context says so: the answer, the event and the log', async () => {
    const first = await window('window one', { DEMO_AGENT_SESSION_SUPPORT: 'none' });
    await first.run('alpha', { sessionKey: 'chat' });
    await first.shutdown();
    const second = await window('window two', { DEMO_AGENT_SESSION_SUPPORT: 'none' });
    const lost: string[] = [];
    second.conversations.onDidLoseContext(({ key }) => lost.push(key));
    const lease = await second.acquire({ sessionKey: 'chat' });
    let answer;
    try {
      answer = await lease.prompt('/demo recall');
    } finally {
      lease.release();
    }
    assert.deepEqual([answer.continuity, answer.text], ['context-lost', '(nothing earlier in this session)']);
    assert.deepEqual(lost, ['chat']);
    assert.equal(logged.filter((line) => /^warn conversation chat: its earlier context is gone: profile "demo" cannot resume sessions/.test(line)).length, 1, logged.join('\n'));
  });

  it('a lease released in the middle of a turn keeps the conversation until that turn has ended and been recorded', async () => {
    const first = await window('window one');
    const lease = await first.acquire({ sessionKey: 'chat' });
    const turn = lease.prompt('/demo latency=300\nalpha');
    lease.release();
    // The next turn of this window waits for the lease's turn, then finds it recorded and kept.
    const next = await first.run('/demo recall', { sessionKey: 'chat' });
    const answered = await turn;
    assert.deepEqual([next.sessionId, next.continuity, next.text], [answered.sessionId, 'kept', '/demo latency=300\nalpha']);
    assert.equal((await first.conversations.get('chat'))!.turns, 2);
  });
});
