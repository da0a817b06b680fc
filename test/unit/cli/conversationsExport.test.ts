import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConversationExport, ExportedContextLost, ExportedTurn } from '../../../src/cli/output/transcriptExport';
import { assertBuilt, runBuiltCli } from './cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

/** `agent-pool conversations export NAME`: the transcript every turn writes, from separate `run --session` processes. */
describe('agent-pool conversations export (built binary, real demo agents)', function () {
  this.timeout(90_000);
  let dir: string;
  let profiles: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-export-'));
    profiles = join(dir, 'profiles.json');
    // No resume support: the second process cannot continue the first one's session, so the context is lost.
    const demo = { adapter: 'acp', command: process.execPath, args: [join(DIST, 'demo-agent.js')], env: { DEMO_AGENT_SESSION_SUPPORT: 'none' } };
    writeFileSync(profiles, JSON.stringify({ demo }));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const run = (prompt: string) => runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--profiles', profiles, '--session', 'review', '--format', 'quiet', prompt], 30_000);

  it('exports both turns of two processes as JSON and Markdown, with the context-lost line between them', async () => {
    const first = await run('/demo thought tool usage=0.02\nalpha ``` fence');
    assert.equal(first.code, 0, first.stderr);
    const second = await run('/demo recall\nbeta');
    assert.equal(second.code, 0, second.stderr);
    assert.equal(second.stdout, '(nothing earlier in this session)\n');

    const json = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'review', '--format', 'json']);
    assert.equal(json.code, 0, json.stderr);
    const exported = JSON.parse(json.stdout) as ConversationExport & { conversation: { contextLost: number } };
    assert.equal(exported.v, 1);
    assert.equal(exported.conversation.name, 'review');
    assert.equal(exported.conversation.turns, 2);
    assert.equal(exported.truncated, false);
    assert.deepEqual(exported.entries.map((entry) => entry.type), ['turn', 'context-lost', 'turn']);
    const [one, lost, two] = exported.entries as [ExportedTurn, ExportedContextLost, ExportedTurn];
    assert.deepEqual(
      { turn: one.turn, prompt: one.prompt, answer: one.answer, thoughts: one.thoughts, tools: one.toolCalls.map((call) => [call.title, call.status]), stop: one.stopReason, cost: one.usage?.costUsd, continuity: one.continuity },
      { turn: 1, prompt: '/demo thought tool usage=0.02\nalpha ``` fence', answer: 'alpha ``` fence', thoughts: 'thinking about it', tools: [['Read demo.txt', 'completed']], stop: 'end_turn', cost: 0.02, continuity: 'started' },
    );
    assert.match(lost.reason, /profile "demo" cannot resume sessions/);
    assert.equal(lost.sessionId, two.sessionId, 'the context-lost line names the new session the turn ran in');
    assert.notEqual(two.sessionId, one.sessionId);
    assert.deepEqual({ turn: two.turn, answer: two.answer, continuity: two.continuity, error: two.error }, { turn: 2, answer: '(nothing earlier in this session)', continuity: 'context-lost', error: null });
    assert.ok(Date.parse(one.at) <= Date.parse(one.endedAt) && Date.parse(one.endedAt) <= Date.parse(two.at), 'times in order');
    assert.equal(two.agent, 'demo-1');

    const markdown = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'review']);
    assert.equal(markdown.code, 0, markdown.stderr);
    const text = markdown.stdout;
    assert.match(text, /^# Conversation "review"\n\nProfile `demo` · 2 turns · session `demo-\S+` · /);
    const turn1 = text.indexOf('## Turn 1 · demo-1 · ');
    const contextLost = text.indexOf('> **Context lost** (');
    const turn2 = text.indexOf('## Turn 2 · demo-1 · ');
    assert.ok(turn1 > 0 && turn1 < contextLost && contextLost < turn2, text);
    assert.ok(text.includes('````text\n/demo thought tool usage=0.02\nalpha ``` fence\n````'), 'the prompt is fenced past its own backticks');
    assert.match(text, /\*\*Tool calls\*\*\n\n- Read demo.txt \(read\): completed\n/);
    assert.match(text, /> \*\*Context lost\*\* \([^)]+\): profile "demo" cannot resume sessions[^\n]*The conversation continued in a new session `demo-\S+` on demo-1; the agent does not know the turns above\./);
    assert.match(text, /\*\*Answer\*\*\n\n\(nothing earlier in this session\)\n\n_stop reason end_turn · session demo-\S+ \(context-lost\)_\n$/);

    const file = join(dir, 'review.md');
    const written = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'review', '-o', file]);
    assert.equal(written.code, 0, written.stderr);
    assert.equal(written.stdout, '');
    assert.match(written.stderr, /Wrote the transcript of "review" \(2 turns\) to .*review\.md\./);
    assert.equal(readFileSync(file, 'utf8'), text);
    assert.equal(statSync(file).mode & 0o777, 0o600);

    // Closing ends the transcript too: a new conversation of the same name starts empty.
    assert.equal((await runBuiltCli(['--dir', dir, 'conversations', 'close', 'review'], 30_000)).code, 0);
    assert.deepEqual(readdirSync(join(dir, 'conversations')).filter((name) => name.includes('transcript')), []);
  });

  it('an unknown name fails with exit 1, naming the directory and how to list the conversations', async () => {
    const missing = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'nope', '--format', 'json']);
    assert.equal(missing.code, 1);
    assert.equal(missing.stdout, '');
    assert.match(missing.stderr, /^agent-pool: No conversation "nope" in .*\nList the conversations with: agent-pool conversations list\n$/);
    const badFormat = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'nope', '--format', 'html']);
    assert.equal(badFormat.code, 2);
    assert.match(badFormat.stderr, /argument 'html' is invalid\. Allowed choices are markdown, json/);
    assert.equal(existsSync(join(dir, 'conversations')), false, 'a lookup creates nothing');
  });
});
