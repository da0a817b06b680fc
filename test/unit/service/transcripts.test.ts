import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSettings } from '../../../src/core/config/settings';
import type { TranscriptContextLost, TranscriptTurn } from '../../../src/core/conversations/transcriptEntry';
import { AgentPoolService } from '../../../src/core/service/agentPoolService';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** The window's and the API's path (service.run with a sessionKey) writes the same transcript the CLI does. */
describe('conversation transcripts from windows (real demo agents)', function () {
  this.timeout(40_000);
  let directory: string;
  const services: AgentPoolService[] = [];

  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'ap-transcripts-'));
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.shutdown()));
    rmSync(directory, { recursive: true, force: true });
  });

  async function window(name: string, env: Record<string, string> = {}): Promise<AgentPoolService> {
    const values: Record<string, unknown> = {
      registryDirectory: directory,
      'pool.minAgents': 1,
      'pool.maxAgents': 1,
      profiles: { demo: { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_DIR: join(directory, 'demo-sessions'), ...env } } },
    };
    const { settings } = readSettings((key) => values[key]);
    const service = new AgentPoolService({ settings, workspace: { name, folders: [process.cwd()] }, extensionVersion: 'test', cwd: process.cwd(), distDirectory: DIST, spawnBlockedReason: () => undefined, log: () => undefined });
    services.push(service);
    await service.start();
    await service.startPool('demo');
    return service;
  }

  it('records the turns of two windows in order, a context lost and a failed turn too, and close removes it', async () => {
    const first = await window('window one');
    await first.run('/demo tool\nalpha', { sessionKey: 'chat' });
    await first.shutdown();
    // This window's agent cannot resume: the conversation goes on in a new session, and that turn then fails.
    const second = await window('window two', { DEMO_AGENT_SESSION_SUPPORT: 'none' });
    await assert.rejects(second.run('/demo error=internal\nbeta', { sessionKey: 'chat' }));
    assert.equal((await second.run('/demo recall', { sessionKey: 'chat' })).text, '(nothing earlier in this session)');

    const read = await second.conversations.transcripts.read('chat');
    assert.deepEqual([read.skippedLines, read.problems, read.truncated], [0, [], false]);
    const entries = read.entries;
    assert.deepEqual(
      entries.map((entry) => (entry.type === 'turn' ? [entry.turn, entry.prompt.split('\n').at(-1), entry.stopReason, entry.continuity] : [entry.type])),
      [[1, 'alpha', 'end_turn', 'started'], ['context-lost'], [null, 'beta', null, null], [2, '/demo recall', 'end_turn', 'kept']],
    );
    const [alpha, lost, beta, recall] = entries as [TranscriptTurn, TranscriptContextLost, TranscriptTurn, TranscriptTurn];
    assert.equal(alpha.toolCalls[0]?.title, 'Read demo.txt');
    assert.match(lost.reason, /cannot resume sessions/);
    assert.match(beta.error!, /internal/i);
    assert.notEqual(lost.sessionId, alpha.sessionId);
    assert.deepEqual([beta.sessionId, recall.sessionId], [lost.sessionId, lost.sessionId], 'the failed turn and the next ran in the new session');
    assert.equal(recall.agent, 'demo-1');

    assert.equal(await second.conversations.close('chat'), true);
    assert.equal(existsSync(second.conversations.transcripts.fileOf('chat')), false);
  });
});
