import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { readSettings } from '../../../src/core/config/settings';
import { describeFirstOutputWait } from '../../../src/core/pool/firstOutputWait';
import { recordFileName } from '../../../src/core/conversations/conversationRecord';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';
import type { ContextLost } from '../../../src/core/service/conversations';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/**
 * Conversations across windows and processes: two services on one registry directory are two
 * windows (or a window and the CLI); a service shut down and a new one started is a reload.
 */
describe('conversations across windows (records in the registry directory, real demo agents)', function () {
  this.timeout(40_000);
  let directory: string;
  let sessions: string;
  const services: AgentPoolService[] = [];

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'ap-conversations-'));
    sessions = mkdtempSync(join(tmpdir(), 'ap-demo-sessions-'));
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.shutdown()));
    rmSync(directory, { recursive: true, force: true });
    rmSync(sessions, { recursive: true, force: true });
  });

  async function window(name: string, env: Record<string, string> = {}, extra: Record<string, unknown> = {}): Promise<AgentPoolService> {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      'pool.minAgents': 1,
      'pool.maxAgents': 2,
      profiles: { demo: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_DIR: sessions, ...env } } },
      ...extra,
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
      log: () => undefined,
    });
    services.push(service);
    await service.start();
    await service.startPool('demo');
    return service;
  }

  it("a conversation's turn says how long it has waited for the agent's first output, then stops saying it", async () => {
    const first = await window('first');
    const seen: Array<string | undefined> = [];
    const result = await first.run('/demo latency=1200\nslow', { sessionKey: 'waits', onWaiting: (wait) => seen.push(wait && describeFirstOutputWait(wait)) });
    assert.equal(result.text, 'slow');
    assert.deepEqual(seen.slice(0, 2), ["waiting for demo's first output · 0 s", "waiting for demo's first output · 1 s"], 'the wait counts up each second');
    assert.equal(seen.at(-1), undefined, 'the line is taken away at the first output');
    assert.equal(seen.filter((line) => line === undefined).length, 1);
  });

  it('a conversation survives a reload: the new window resumes the recorded session, with its context', async () => {
    const first = await window('first');
    const alpha = await first.run('alpha', { sessionKey: 'chat' });
    await first.run('/demo usage=0.01\nbeta', { sessionKey: 'chat' });
    const file = join(directory, 'conversations', recordFileName('chat'));
    assert.equal(statSync(file).mode & 0o777, 0o600, 'records are private files');
    const record = JSON.parse(readFileSync(file, 'utf8'));
    assert.deepEqual([record.key, record.profile, record.sessionId, record.turns, record.workspace.name], ['chat', 'demo', alpha.sessionId, 2, 'first']);
    await first.shutdown();

    const second = await window('second');
    const listed = await second.conversations.list();
    assert.deepEqual(
      listed.map((c) => [c.key, c.turns, c.here]),
      [['chat', 2, false]],
    );
    const recalled = await second.run('/demo recall', { sessionKey: 'chat' });
    assert.deepEqual([recalled.sessionId, recalled.continuity, recalled.text], [alpha.sessionId, 'resumed', 'alpha\n/demo usage=0.01\nbeta']);
    // The running cost total went with the record: the next turn costs its own share only.
    await second.run('/demo usage=0.01\ngamma', { sessionKey: 'chat' });
    const after = (await second.conversations.get('chat'))!;
    assert.deepEqual([after.turns, after.usage.costUsd, after.usage.sessionCostUsd, after.here], [4, 0.02, 0.02, true]);
  });

  it('one owner at a time: a turn from another window while one runs is refused, naming the owner', async () => {
    const first = await window('window one');
    const second = await window('window two');
    await first.run('alpha', { sessionKey: 'chat' });
    const long = first.run('/demo latency=1500\nlong turn', { sessionKey: 'chat' });
    await waitForEvent(first.onDidChange, () => first.pools()[0]!.agents.some((a) => a.state === 'busy'), 5000);
    await assert.rejects(second.run('/demo recall', { sessionKey: 'chat' }), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'CONVERSATION_BUSY');
      assert.match(error.message, /Conversation "chat" is running a turn in .*window one.* \(pid \d+\)/);
      return true;
    });
    // Turns of the same window wait in order instead.
    const next = first.run('/demo recall', { sessionKey: 'chat' });
    await long;
    assert.equal((await next).text, 'alpha\n/demo latency=1500\nlong turn');
    // Once free, the other window takes it over; the first window's agent then holds a stale copy and resumes again.
    assert.equal((await second.run('/demo recall', { sessionKey: 'chat' })).continuity, 'resumed');
    const back = await first.run('/demo recall', { sessionKey: 'chat' });
    assert.equal(back.continuity, 'resumed');
    assert.match(back.text, /\/demo recall$/);
  });

  it('the context-lost path is reported: an event on the API and the conversation record', async () => {
    const first = await window('first', { DEMO_AGENT_SESSION_SUPPORT: 'none' });
    await first.run('alpha', { sessionKey: 'chat' });
    await first.shutdown();
    const second = await window('second', { DEMO_AGENT_SESSION_SUPPORT: 'none' });
    const lost: ContextLost[] = [];
    second.conversations.onDidLoseContext((event) => lost.push(event));
    const result = await second.run('/demo recall', { sessionKey: 'chat' });
    assert.equal(result.continuity, 'context-lost');
    assert.equal(result.text, '(nothing earlier in this session)');
    assert.equal(lost.length, 1);
    assert.equal(lost[0]!.key, 'chat');
    assert.match(lost[0]!.reason, /cannot resume sessions/);
    const view = (await second.conversations.get('chat'))!;
    assert.deepEqual([view.contextLost, view.contextLostReason], [1, lost[0]!.reason]);
  });

  it('closing ends the record and the agent session; idle conversations close after the set time', async () => {
    const first = await window('first', {}, { 'conversations.idleCloseMinutes': 1 });
    const alpha = await first.run('alpha', { sessionKey: 'chat' });
    assert.ok(existsSync(join(sessions, `${alpha.sessionId}.json`)));
    assert.equal(await first.conversations.close('chat'), true);
    assert.equal(existsSync(join(directory, 'conversations', recordFileName('chat'))), false);
    assert.equal(existsSync(join(sessions, `${alpha.sessionId}.json`)), false, 'session/close reached the agent');
    assert.equal(await first.conversations.close('chat'), false);

    await first.run('old', { sessionKey: 'old' });
    await first.run('fresh', { sessionKey: 'fresh' });
    // Make "old" look unused for two minutes.
    const file = join(directory, 'conversations', recordFileName('old'));
    const record = JSON.parse(readFileSync(file, 'utf8'));
    writeFileSync(file, JSON.stringify({ ...record, lastUsedAt: Date.now() - 120_000 }), { mode: 0o600 });
    assert.deepEqual(await first.conversations.closeIdle(), ['old']);
    assert.deepEqual((await first.conversations.list()).map((c) => c.key), ['fresh']);
  });

  it('hostile files in the conversations folder are skipped and counted, never followed', async () => {
    const first = await window('first');
    await first.run('alpha', { sessionKey: 'chat' });
    const folder = join(directory, 'conversations');
    writeFileSync(join(folder, 'garbage.json'), 'not json at all', { mode: 0o600 });
    writeFileSync(join(folder, 'cut.json'), '{"schema":"agent-pool/conv', { mode: 0o600 });
    writeFileSync(join(folder, 'wrong.json'), JSON.stringify({ schema: 'agent-pool/conversation', version: 1, key: 'x' }), { mode: 0o600 });
    symlinkSync('/etc/passwd', join(folder, recordFileName('linked')));
    assert.deepEqual((await first.conversations.list()).map((c) => c.key), ['chat']);
    assert.equal(await first.conversations.get('linked'), undefined);
    const counts = first.conversations.badFileCounts();
    assert.deepEqual([counts.garbage, counts.truncated, counts['wrong-schema'], counts['not-a-file']], [1, 1, 1, 1]);
    assert.ok(readdirSync(folder).includes(recordFileName('chat')));
  });
});
