import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { parseRunEvent, type DoneEvent, type RunEvent } from '../../../src/cli/output/runEvents';
import { RunningCli, assertBuilt, runBuiltCli } from './cliProcess';

function events(stdout: string): RunEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => parseRunEvent(line));
}

/** Conversations from the shell, on the records every window and `run --session` share (real processes). */
describe('agent-pool conversations and --session from several shells (built binary, real demo agent)', function () {
  this.timeout(90_000);
  let dir: string;
  const run = (...args: string[]) => ['--dir', dir, 'run', '--profile', 'demo', ...args];

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-conv-cli-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a prompt sent while the conversation runs a turn in another process waits, says so, then runs after it in the same session', async () => {
    // Six seconds of answer leave the second process ample time to start and find the turn running, even on a loaded machine.
    const first = new RunningCli(run('--session', 'shared', '--format', 'json', '/demo latency=6000 chunks=3\nfirst prompt'));
    await first.waitForLine(/"type":"started"/, 0, 30_000);
    const second = new RunningCli(run('--session', 'shared', '--format', 'json', '/demo recall\nsecond prompt'));
    let secondErr = '';
    second.child.stderr.setEncoding('utf8').on('data', (chunk: string) => (secondErr += chunk));
    const [firstCode, secondCode] = await Promise.all([
      new Promise((resolve) => first.child.once('exit', resolve)),
      new Promise((resolve) => second.child.once('exit', resolve)),
    ]);
    assert.equal(firstCode, 0);
    assert.equal(secondCode, 0, secondErr);

    const firstStream = events(first.output);
    assert.equal((firstStream.at(-1) as DoneEvent).text, 'first prompt', 'the first turn got its own answer, whole');
    const secondStream = events(second.output);
    assert.deepEqual(
      secondStream.map((event) => event.type).filter((type) => type !== 'message_chunk'),
      ['queued', 'started', 'done'],
      'the second prompt was queued before it started',
    );
    const label = `agent-pool run (${basename(process.cwd())})`;
    assert.deepEqual(
      { ...secondStream[0], elapsedMs: 0 },
      { v: 1, seq: 0, elapsedMs: 0, type: 'queued', conversation: 'shared', owner: { label, pid: first.child.pid }, ahead: 1 },
      'the queued event names the process whose turn runs',
    );
    assert.ok(secondErr.includes(`Conversation "shared" is running a turn in ${label} (pid ${first.child.pid}); this prompt waits for it to end`), secondErr);
    // The agent remembers the first turn: the second ran after it, in the same session, not beside it.
    assert.match((secondStream.at(-1) as DoneEvent).text, /first prompt/);
    assert.match(secondErr, /conversation "shared": resumed session \S+ \(turn 2\)/);
  });

  it('--wait bounds the wait for a busy conversation: exit 3, with the reason in done', async () => {
    const holder = new RunningCli(run('--session', 'held', '--format', 'json', '/demo hang\nnever answered'));
    try {
      await holder.waitForLine(/"type":"started"/, 0, 30_000);
      const waited = await runBuiltCli(run('--session', 'held', '--format', 'json', '--wait', '700ms', 'hi'), 30_000);
      assert.equal(waited.code, 3, waited.stderr);
      const stream = events(waited.stdout);
      assert.equal(stream[0]!.type, 'queued');
      const done = stream.at(-1) as DoneEvent;
      assert.equal(done.exitCode, 3);
      assert.equal(done.error?.code, 'CONVERSATION_WAIT_TIMEOUT');
      assert.match(done.error!.message, /Conversation "held" was still running a turn elsewhere after 1 s[\s\S]*--wait <duration>/);
    } finally {
      assert.equal(await holder.stop('SIGINT'), 130);
    }
  });

  it('list, show and close, as text and JSON', async () => {
    for (const prompt of ['/demo usage=0.02\nalpha', '/demo usage=0.03\nbeta']) {
      const turn = await runBuiltCli(run('--session', 'review 42', '--format', 'quiet', prompt), 30_000);
      assert.equal(turn.code, 0, turn.stderr);
    }
    const other = await runBuiltCli(run('--session', 'other', '--format', 'quiet', 'gamma'), 30_000);
    assert.equal(other.code, 0, other.stderr);

    const listed = await runBuiltCli(['--dir', dir, 'conversations', 'list', '--json']);
    assert.equal(listed.code, 0, listed.stderr);
    const rows = JSON.parse(listed.stdout) as Array<Record<string, unknown> & { usage: { costUsd: number }; agent: { sessionId: string; servedBy: { label: string } } }>;
    assert.deepEqual(rows.map((row) => row.name), ['other', 'review 42'], 'most recently used first');
    const review = rows[1]!;
    assert.equal(review.profile, 'demo');
    assert.equal(review.turns, 2);
    assert.equal(review.usage.costUsd, 0.05, 'the cost of the two turns, not the sum of running totals');
    assert.match(review.agent.sessionId, /^demo-/);
    assert.match(review.agent.servedBy.label, /^agent-pool run/);
    assert.ok(!Number.isNaN(Date.parse(review.lastUsedAt as string)) && !Number.isNaN(Date.parse(review.createdAt as string)));

    const text = await runBuiltCli(['--dir', dir, 'conversations', 'list']);
    assert.match(text.stdout, /^NAME\s+PROFILE\s+TURNS\s+CONTEXT\s+COST\s+LAST USED\s+SERVED BY\n/);
    assert.match(text.stdout, /\nreview 42\s+demo\s+2\s+10k\/200k \(5\.0%\)\s+\$0\.0500\s+[\d.]+(ms|s|m) ago\s+agent-pool run/);

    const shown = await runBuiltCli(['--dir', dir, 'conversations', 'show', 'review 42', '--json']);
    assert.deepEqual(JSON.parse(shown.stdout), review);
    const shownText = await runBuiltCli(['--dir', dir, 'conversations', 'show', 'review 42']);
    assert.match(shownText.stdout, /^Conversation "review 42"\n {2}profile {5}demo\n {2}session {5}demo-\S+\n {2}turns {7}2\n/);

    const closed = await runBuiltCli(['--dir', dir, 'conversations', 'close', 'review 42'], 30_000);
    assert.equal(closed.code, 0, closed.stderr);
    assert.match(closed.stdout, /Closed conversation "review 42" \(demo, 2 turns\)/);
    const after = await runBuiltCli(['--dir', dir, 'conversations', 'list', '--json']);
    assert.deepEqual((JSON.parse(after.stdout) as Array<{ name: string }>).map((row) => row.name), ['other']);

    for (const command of ['show', 'close']) {
      const missing = await runBuiltCli(['--dir', dir, 'conversations', command, 'review 42']);
      assert.equal(missing.code, 1, command);
      assert.match(missing.stderr, /No conversation "review 42" in .*\nList the conversations with: agent-pool conversations list/, command);
    }
    // A new turn under the closed name starts afresh.
    const again = await runBuiltCli(run('--session', 'review 42', '--format', 'quiet', '/demo recall\nx'), 30_000);
    assert.doesNotMatch(again.stdout, /alpha|beta/);
  });

  it('an empty directory lists nothing and says how to start a conversation', async () => {
    const empty = await runBuiltCli(['--dir', dir, 'conversations', 'list']);
    assert.equal(empty.code, 0);
    assert.equal(empty.stdout, '');
    assert.match(empty.stderr, /No conversation in .*\nStart one with: agent-pool run --profile demo --session NAME "prompt"/);
    assert.equal((await runBuiltCli(['--dir', dir, 'conversations', 'list', '--json'])).stdout, '[]\n');
  });
});
