import * as assert from 'node:assert/strict';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentProfile, AgentStreamEvent, PermissionPolicy } from '../../../src/core/agents/adapter';
import { builtinProfiles } from '../../../src/core/agents/profiles';
import { isProcessRunning } from '../../../src/core/process/tree';
import { ConnectionTracker, distDirectory, fixturesDirectory, rejectionOf, requireBuild, waitForProcessGone } from './helpers';

const fakeClaude = path.join(fixturesDirectory, 'fake-claude-stream-json.mjs');
const fakeOneShot = path.join(fixturesDirectory, 'fake-oneshot.mjs');
const fakePlain = path.join(fixturesDirectory, 'fake-plain.mjs');

/** A built-in profile pointed at a fixture program that speaks the same format. */
function fixtureProfile(builtinName: string, command: string, args: string[], extra: Partial<AgentProfile> = {}): AgentProfile {
  return { ...builtinProfiles(distDirectory)[builtinName]!, command, args, ...extra };
}

describe('Claude Code stream-json adapter (fixture speaking the exact format)', function () {
  this.timeout(10_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());

  const claudeArgs = builtinProfiles(distDirectory)['claude-stream-json']!.args;
  const claude = (extra: Partial<AgentProfile> = {}) => fixtureProfile('claude-stream-json', fakeClaude, claudeArgs, extra);

  it('gets ready from the initialize control request and keeps one warm conversation', async () => {
    const agent = tracker.create(claude());
    await agent.start();
    assert.equal(agent.lifetime, 'long-lived');
    assert.equal(agent.health().ready, true);
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const events: AgentStreamEvent[] = [];
    const first = await agent.prompt({ sessionId, text: '/fake chunks=3\nstream json works', onEvent: (event) => events.push(event) });
    assert.equal(first.stopReason, 'end_turn');
    assert.equal(first.text, 'stream json works');
    assert.equal(events.filter((event) => event.kind === 'text').length, 3);
    assert.ok(first.firstEventMs !== undefined && first.firstEventMs <= first.totalMs);
    assert.deepEqual(first.usage, { inputTokens: 10, outputTokens: 17, costUsd: 0.01 });
    const pid = agent.process!.pid;
    const second = await agent.prompt({ sessionId, text: 'again' });
    assert.equal(second.text, 'again');
    assert.equal(agent.process!.pid, pid, 'same process');
    assert.ok(Math.abs(second.usage!.costUsd! - 0.01) < 1e-9, 'per-turn cost from the cumulative total');
  });

  it('cancels a turn with the interrupt control request', async () => {
    const agent = tracker.create(claude());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const controller = new AbortController();
    const turn = agent.prompt({ sessionId, text: '/fake hang\n', signal: controller.signal });
    setImmediate(() => controller.abort());
    assert.equal((await turn).stopReason, 'cancelled');
    assert.equal((await agent.prompt({ sessionId, text: 'after' })).text, 'after');
  });

  const permissionCases: Array<[PermissionPolicy, string, RegExp]> = [
    ['allowAll', 'Bash', /tool Bash allowed/],
    ['allowReadOnly', 'Read', /tool Read allowed/],
    ['allowReadOnly', 'Edit', /tool Edit denied/],
    ['reject', 'Read', /tool Read denied/],
  ];
  for (const [policy, tool, expected] of permissionCases) {
    it(`answers can_use_tool for ${tool} under ${policy}`, async () => {
      const agent = tracker.create(claude({ permissionPolicy: policy }));
      await agent.start();
      const sessionId = await agent.openSession({ cwd: os.tmpdir() });
      assert.match((await agent.prompt({ sessionId, text: `/fake permission=${tool}\n` })).text, expected);
    });
  }

  it('maps an auth failure result to AGENT_AUTH_REQUIRED and a 429 to AGENT_RATE_LIMITED', async () => {
    const agent = tracker.create(claude());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    assert.equal((await rejectionOf(agent.prompt({ sessionId, text: '/fake error=auth\n' }))).code, 'AGENT_AUTH_REQUIRED');
    assert.equal((await rejectionOf(agent.prompt({ sessionId, text: '/fake error=rate-limit\n' }))).code, 'AGENT_RATE_LIMITED');
  });

  it('surfaces a crash mid-turn with the stderr tail', async () => {
    const agent = tracker.create(claude());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const error = await rejectionOf(agent.prompt({ sessionId, text: '/fake chunks=3 crash=1\nabcdef' }));
    assert.equal(error.code, 'AGENT_CRASHED');
    assert.match(error.stderrTail ?? '', /crashed mid-turn/);
  });

  it('times out a silent process and reports an exit at start', async () => {
    const silent = tracker.create(claude({ handshakeTimeoutMs: 500, env: { FAKE_SILENT: '1' } }));
    let pid = 0;
    silent.onDidSpawn((identity) => (pid = identity.pid));
    assert.equal((await rejectionOf(silent.start())).code, 'AGENT_HANDSHAKE_TIMEOUT');
    await waitForProcessGone(pid, 2000);
    const quitter = tracker.create(claude({ env: { FAKE_EXIT_AT_START: '5' } }));
    const error = await rejectionOf(quitter.start());
    assert.equal(error.code, 'AGENT_EXITED_AT_START');
    assert.match(error.message, /FAKE_EXIT_AT_START=5/);
  });
});

describe('one-shot JSON-lines adapter', function () {
  this.timeout(10_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());

  const dialects: Array<[string, string]> = [
    ['codex-exec', 'codex-exec'],
    ['gemini-oneshot', 'gemini'],
    ['claude-oneshot', 'claude-print'],
  ];
  for (const [builtinName, dialect] of dialects) {
    describe(dialect, () => {
      const profile = () => fixtureProfile(builtinName, fakeOneShot, [dialect, '{prompt}']);

      it('runs one process per prompt and streams its events', async () => {
        const agent = tracker.create(profile());
        const spawned: number[] = [];
        agent.onDidSpawn((identity) => spawned.push(identity.pid));
        await agent.start();
        assert.equal(agent.lifetime, 'one-shot');
        assert.equal(agent.process, undefined);
        const sessionId = await agent.openSession({ cwd: os.tmpdir() });
        const texts: string[] = [];
        const result = await agent.prompt({ sessionId, text: '/fake chunks=2\ncold prompt', onEvent: (event) => event.kind === 'text' && texts.push(event.text!) });
        assert.equal(result.stopReason, 'end_turn');
        assert.equal(result.text, 'cold prompt');
        assert.deepEqual(texts, ['cold p', 'rompt']);
        assert.equal(result.usage?.outputTokens, 11);
        await agent.prompt({ sessionId, text: 'second' });
        assert.equal(spawned.length, 2);
        assert.notEqual(spawned[0], spawned[1]);
        assert.equal(isProcessRunning(spawned[1]!), false);
      });

      it('maps auth and rate-limit failures', async () => {
        const agent = tracker.create(profile());
        await agent.start();
        const sessionId = await agent.openSession({ cwd: os.tmpdir() });
        assert.equal((await rejectionOf(agent.prompt({ sessionId, text: '/fake error=auth\n' }))).code, 'AGENT_AUTH_REQUIRED');
        assert.equal((await rejectionOf(agent.prompt({ sessionId, text: '/fake error=rate-limit\n' }))).code, 'AGENT_RATE_LIMITED');
      });
    });
  }

  it('cancel kills the turn process and resolves cancelled', async () => {
    const agent = tracker.create(fixtureProfile('codex-exec', fakeOneShot, ['codex-exec', '{prompt}']));
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    let pid = 0;
    const result = await agent.prompt({
      sessionId,
      text: '/fake hang\n',
      onEvent: () => {
        pid = agent.process!.pid;
        void agent.cancel(sessionId);
      },
    });
    assert.equal(result.stopReason, 'cancelled');
    assert.equal(isProcessRunning(pid), false);
  });

  it('a crash (signal) mid-turn is AGENT_CRASHED; a missing binary is caught at start', async () => {
    const agent = tracker.create(fixtureProfile('gemini-oneshot', fakeOneShot, ['gemini', '{prompt}']));
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const error = await rejectionOf(agent.prompt({ sessionId, text: '/fake chunks=3 crash\nabcdef' }));
    assert.equal(error.code, 'AGENT_CRASHED');
    assert.match(error.message, /SIGSEGV/);
    const missing = tracker.create(fixtureProfile('codex-exec', 'codex-not-installed-4711', ['exec']));
    const notFound = await rejectionOf(missing.start());
    assert.equal(notFound.code, 'AGENT_BINARY_NOT_FOUND');
    assert.match(notFound.message, /agentPool\.profiles\.codex-exec\.command/);
  });

  it('a program that exits at once is AGENT_EXITED_AT_START with its stderr', async () => {
    const agent = tracker.create(fixtureProfile('codex-exec', fakeOneShot, ['codex-exec', '{prompt}'], { env: { FAKE_EXIT_AT_START: '2' } }));
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const error = await rejectionOf(agent.prompt({ sessionId, text: 'x' }));
    assert.equal(error.code, 'AGENT_EXITED_AT_START');
    assert.match(error.message, /FAKE_EXIT_AT_START=2/);
  });
});

describe('plain one-shot adapter', function () {
  this.timeout(10_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());
  const aiderLike = () => fixtureProfile('aider', fakePlain, ['--message', '{prompt}', '--yes-always', '--no-stream']);

  it('streams stdout as text and succeeds on exit code 0', async () => {
    const agent = tracker.create(aiderLike());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const texts: string[] = [];
    const result = await agent.prompt({ sessionId, text: '/fake chunks=3\nplain text out', onEvent: (event) => texts.push(event.text!) });
    assert.equal(result.stopReason, 'end_turn');
    assert.equal(result.text, 'plain text out');
    assert.ok(texts.length >= 2, `streamed in ${texts.length} events`);
  });

  it('fails with the stderr tail on a non-zero exit', async () => {
    const agent = tracker.create(aiderLike());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const error = await rejectionOf(agent.prompt({ sessionId, text: '/fake fail\n' }));
    assert.equal(error.code, 'AGENT_REQUEST_FAILED');
    assert.match(error.message, /model refused the edit/);
  });

  it('refuses a prompt that the CLI would read as an option, without starting a process', async () => {
    const agent = tracker.create(aiderLike());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const spawned: number[] = [];
    agent.onDidSpawn((identity) => spawned.push(identity.pid));
    const error = await rejectionOf(agent.prompt({ sessionId, text: '--dangerously-skip-permissions' }));
    assert.equal(error.code, 'AGENT_REQUEST_FAILED');
    assert.match(error.message, /may not start with "-"/);
    assert.deepEqual(spawned, []);
  });

  it('kill() ends a running turn as cancelled and fires one expected exit', async () => {
    const agent = tracker.create(aiderLike());
    await agent.start();
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const exits: boolean[] = [];
    agent.onDidExit((exit) => exits.push(exit.expected));
    const turn = agent.prompt({ sessionId, text: '/fake hang\n', onEvent: () => void agent.kill(500) });
    assert.equal((await turn).stopReason, 'cancelled');
    assert.deepEqual(exits, [true]);
    assert.equal((await rejectionOf(agent.prompt({ sessionId, text: 'x' }))).code, 'AGENT_NOT_RUNNING');
  });
});
