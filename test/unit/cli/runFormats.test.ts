import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunEvent, type DoneEvent, type RunEvent, type ToolCallEvent } from '../../../src/cli/output/runEvents';
import { translateAgentEvent } from '../../../src/cli/output/translate';
import { repoRoot } from '../../fixtures/repoRoot';
import { CLI, RunningCli, assertBuilt, type CliResult } from './cliProcess';

/** Runs the built binary with `input` on stdin (closed at once when omitted). */
function runWithInput(args: string[], input = '', timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    child.stdin.end(input);
  });
}

function events(stdout: string): RunEvent[] {
  const lines = stdout.split('\n');
  assert.equal(lines.pop(), '', 'the stream ends with a newline');
  return lines.map((line) => parseRunEvent(line));
}

/** The stream's envelope holds: contiguous seq from 0, non-decreasing time, `done` last and only once. */
function assertWellFormed(stream: RunEvent[], exitCode: number): DoneEvent {
  stream.forEach((event, index) => {
    assert.equal(event.v, 1);
    assert.equal(event.seq, index, `seq of line ${index}`);
    if (index > 0) assert.ok(event.elapsedMs >= stream[index - 1]!.elapsedMs, 'elapsedMs never goes back');
  });
  assert.equal(stream.filter((event) => event.type === 'done').length, 1, 'exactly one done');
  const done = stream.at(-1)!;
  assert.equal(done.type, 'done', 'done is the last line');
  assert.equal((done as DoneEvent).exitCode, exitCode, 'done.exitCode is the exit code the shell sees');
  return done as DoneEvent;
}

describe('agent-pool run: formats, prompt sources, permissions (built binary, real demo agent)', function () {
  this.timeout(60_000);
  let dir: string;
  const run = (...args: string[]) => ['--dir', dir, 'run', '--profile', 'demo', ...args];

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-formats-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('--format json', () => {
    it('reports the whole turn in order, from started to done', async () => {
      const result = await runWithInput(run('--format', 'json', '--permissions', 'allowReadOnly', '/demo thought plan=2 tool permission=read chunks=3\nabcdef'));
      assert.equal(result.code, 0, result.stderr);
      const stream = events(result.stdout);
      const done = assertWellFormed(stream, 0);
      assert.deepEqual(
        stream.map((event) => event.type),
        ['started', 'thought_chunk', 'plan', 'tool_call', 'tool_call_update', 'permission_requested', 'permission_answered', 'message_chunk', 'message_chunk', 'message_chunk', 'done'],
      );
      const [started, thought, plan, tool, toolUpdate, asked, answered] = stream;
      assert.deepEqual(
        { ...started, seq: 0, elapsedMs: 0 },
        { v: 1, seq: 0, elapsedMs: 0, type: 'started', profile: 'demo', agent: 'demo-1', conversation: null, adapter: 'acp', permissions: 'allowReadOnly' },
      );
      assert.deepEqual(thought, { ...thought, text: 'thinking about it' });
      assert.deepEqual((plan as Extract<RunEvent, { type: 'plan' }>).entries, [
        { content: 'Step 1', priority: 'medium', status: 'in_progress' },
        { content: 'Step 2', priority: 'medium', status: 'pending' },
      ]);
      assert.deepEqual({ ...tool, seq: 0, elapsedMs: 0 }, { v: 1, seq: 0, elapsedMs: 0, type: 'tool_call', toolCallId: 'demo-tool-1', title: 'Read demo.txt', kind: 'read', status: 'in_progress' });
      assert.equal((toolUpdate as ToolCallEvent).status, 'completed');
      assert.equal((toolUpdate as ToolCallEvent).toolCallId, 'demo-tool-1');
      const request = asked as Extract<RunEvent, { type: 'permission_requested' }>;
      assert.deepEqual(request.toolCall, { toolCallId: 'demo-permission-1', title: 'Demo read of demo.txt', kind: 'read' });
      assert.deepEqual(request.options.map((option) => option.kind), ['allow_once', 'allow_always', 'reject_once']);
      assert.deepEqual({ ...answered, seq: 0, elapsedMs: 0 }, {
        v: 1, seq: 0, elapsedMs: 0, type: 'permission_answered', requestId: request.requestId, outcome: 'selected', optionId: 'allow', allowed: true, decidedBy: 'policy',
      });
      const chunks = stream.filter((event) => event.type === 'message_chunk').map((event) => (event as { text: string }).text);
      assert.equal(chunks.join(''), 'permission granted (allow)');
      assert.equal(done.text, 'permission granted (allow)');
      assert.equal(done.stopReason, 'end_turn');
      assert.equal(done.outcome, 'ok');
      assert.equal(done.error, null);
      assert.ok(done.durationMs >= stream[0]!.elapsedMs && done.firstEventMs !== null && done.firstEventMs <= done.durationMs);
    });

    it('ends with done carrying the failure: agent error 1, refusal 1, usage 2, budget 3, SIGTERM 143', async () => {
      const failed = await runWithInput(run('--format', 'json', '/demo error=internal\nhi'));
      const failedDone = assertWellFormed(events(failed.stdout), 1);
      assert.equal(failedDone.outcome, 'failure');
      assert.equal(failedDone.error?.code, 'AGENT_REQUEST_FAILED');
      assert.match(failedDone.error!.message, /demo agent internal error/);
      assert.match(failed.stderr, /demo agent internal error/, 'the same message on stderr for people');

      const refused = await runWithInput(run('--format', 'json', '/demo stop=refusal\nno'));
      const refusedDone = assertWellFormed(events(refused.stdout), 1);
      assert.equal(refusedDone.stopReason, 'refusal');
      assert.equal(refusedDone.error, null);

      const unknownFlag = await runWithInput(run('--format', 'json', '--nope', 'hi'));
      assert.equal(assertWellFormed(events(unknownFlag.stdout), 2).error?.message, "unknown option '--nope'");
      const unknownProfile = await runWithInput(['--dir', dir, 'run', '--format=json', '--profile', 'nope', 'hi']);
      assert.match(assertWellFormed(events(unknownProfile.stdout), 2).error!.message, /no agent profile "nope"/);

      const holder = new RunningCli(run('--max-agents-total', '1', '/demo hang\nholding the slot'));
      try {
        await untilSlotTaken(dir);
        const starved = await runWithInput(run('--format', 'json', '--max-agents-total', '1', '--wait', '300ms', 'hi'));
        const starvedDone = assertWellFormed(events(starved.stdout), 3);
        assert.equal(starvedDone.outcome, 'budgetOrTimeout');
        assert.equal(starvedDone.error?.code, 'POOL_ACQUIRE_TIMEOUT');
      } finally {
        await holder.stop('SIGINT');
      }

      const hanging = new RunningCli(run('--format', 'json', '/demo hang\nnever'));
      await hanging.waitForLine(/"type":"started"/);
      assert.equal(await hanging.stop('SIGTERM'), 143);
      const terminated = assertWellFormed(events(hanging.output), 143);
      assert.equal(terminated.outcome, 'terminated');
      assert.equal(terminated.stopReason, 'cancelled');
    });

    it('is read by the consumer the README shows', async () => {
      const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
      const block = /<!-- run-events-consumer:begin -->\n```js\n([\s\S]*?)```\n<!-- run-events-consumer:end -->/.exec(readme);
      assert.ok(block, 'README.md has no run-events-consumer block');
      const consumer = join(dir, 'consume.mjs');
      writeFileSync(consumer, block[1]!);
      const producer = spawn(process.execPath, [CLI, ...run('--format', 'json', '--permissions', 'reject', '/demo tool permission=edit chunks=4\nx')]);
      const reader = spawn(process.execPath, [consumer]);
      producer.stdout.pipe(reader.stdin);
      let out = '';
      let err = '';
      reader.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk));
      reader.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk));
      const [producerCode, readerCode] = await Promise.all([
        new Promise((resolve) => producer.on('close', resolve)),
        new Promise((resolve) => reader.on('close', resolve)),
      ]);
      assert.equal(producerCode, 0);
      assert.equal(readerCode, 0, err);
      assert.deepEqual(JSON.parse(out), { answer: 'permission denied (reject)', stopReason: 'end_turn', exitCode: 0, tools: ['Read demo.txt'], permissions: ['Demo edit of demo.txt: reject'] });
    });
  });

  describe('--format quiet and text', () => {
    it('quiet prints only the final answer, once the turn is over', async () => {
      const result = await runWithInput(run('--format', 'quiet', '--permissions', 'allowAll', '/demo thought tool plan permission=edit chunks=4\nignored'));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'permission granted (allow)\n');
      assert.doesNotMatch(result.stderr, /end_turn|tool:|permission/, 'no summary, tool or permission lines');
    });

    it('text streams the answer to stdout and tool calls, permissions and the summary to stderr', async () => {
      const result = await runWithInput(run('--permissions', 'reject', '/demo tool permission=read chunks=2\nx'));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, 'permission denied (reject)\n');
      assert.match(result.stderr, /^tool: Read demo\.txt \(in_progress\)$/m);
      assert.match(result.stderr, /^permission asked: Demo read of demo\.txt \(read\) for profile "demo"$/m);
      assert.match(result.stderr, /^permission refused \(reject\) by policy$/m);
      assert.match(result.stderr, /^end_turn · agent demo-1 \(demo\) · \d+\.\d\d s$/m);
    });

    it('refuses an unknown format as a usage error', async () => {
      const result = await runWithInput(run('--format', 'yaml', 'hi'));
      assert.equal(result.code, 2);
      assert.match(result.stderr, /'yaml' is invalid[\s\S]*text, json, quiet/);
    });
  });

  describe('prompts from a file and stdin', () => {
    const multiLine = '/demo chunks=3\nfirst line\n\n  indented third line\nlast line\n';
    const echoed = 'first line\n\n  indented third line\nlast line';

    it('-f FILE sends the whole multi-line file, its directive line included', async () => {
      const file = join(dir, 'prompt.txt');
      writeFileSync(file, multiLine);
      const result = await runWithInput(run('--format', 'quiet', '-f', file));
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, `${echoed}\n`);
    });

    it('"-" and "-f -" read the prompt from stdin', async () => {
      for (const args of [['-'], ['-f', '-']]) {
        const result = await runWithInput(run('--format', 'json', ...args), multiLine);
        assert.equal(result.code, 0, result.stderr);
        assert.equal(assertWellFormed(events(result.stdout), 0).text, echoed, args.join(' '));
      }
    });

    it('refuses a missing, empty or doubly given prompt with exit code 2, naming it', async () => {
      const missing = await runWithInput(run('-f', join(dir, 'nope.txt')));
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /Cannot read the prompt file .*nope\.txt: ENOENT/);
      const emptyFile = join(dir, 'empty.txt');
      writeFileSync(emptyFile, '\n');
      const empty = await runWithInput(run('-f', emptyFile));
      assert.equal(empty.code, 2);
      assert.match(empty.stderr, /Prompt file .*empty\.txt is empty/);
      const emptyStdin = await runWithInput(run('-'), '');
      assert.equal(emptyStdin.code, 2);
      assert.match(emptyStdin.stderr, /read from stdin is empty/);
      const both = await runWithInput(run('-f', emptyFile, 'and an argument'));
      assert.equal(both.code, 2);
      assert.match(both.stderr, /Give the prompt once/);
      const none = await runWithInput(run());
      assert.equal(none.code, 2);
      assert.match(none.stderr, /No prompt: give it as an argument/);
      assert.deepEqual(readdirSync(dir).filter((name) => name === 'slots'), [], 'no agent was started for a bad prompt');
    });
  });

  describe('--permissions', () => {
    const answerFor = async (policy: string, kind: string) => {
      const result = await runWithInput(run('--format', 'json', '--permissions', policy, `/demo permission=${kind}\nx`));
      assert.equal(result.code, 0, result.stderr);
      const stream = events(result.stdout);
      assertWellFormed(stream, 0);
      const answered = stream.find((event) => event.type === 'permission_answered') as Extract<RunEvent, { type: 'permission_answered' }>;
      return { allowed: answered.allowed, decidedBy: answered.decidedBy, text: (stream.at(-1) as DoneEvent).text, stderr: result.stderr };
    };

    it('allowReadOnly, allowAll and reject decide as a profile policy does', async () => {
      assert.deepEqual(await answerFor('allowReadOnly', 'read').then(({ allowed, text }) => ({ allowed, text })), { allowed: true, text: 'permission granted (allow)' });
      assert.deepEqual(await answerFor('allowReadOnly', 'edit').then(({ allowed, text }) => ({ allowed, text })), { allowed: false, text: 'permission denied (reject)' });
      assert.equal((await answerFor('allowAll', 'execute')).allowed, true);
      assert.equal((await answerFor('reject', 'read')).allowed, false);
    });

    it('ask without a terminal refuses and says so, naming the flag that decides instead', async () => {
      const asked = await answerFor('ask', 'read');
      assert.deepEqual({ allowed: asked.allowed, decidedBy: asked.decidedBy }, { allowed: false, decidedBy: 'no-terminal' });
      assert.match(asked.stderr, /Refused Demo read of demo\.txt \(read\) for profile "demo": permissions are "ask" but there is no terminal to ask on[\s\S]*--permissions allowReadOnly, allowAll or reject/);
    });

    it('ask on a terminal shows the options and takes the answer typed there', async function () {
      const script = '/usr/bin/script';
      try {
        readFileSync(script);
      } catch {
        this.skip(); // util-linux `script` gives the run a pseudo-terminal; without it there is no TTY to test on
      }
      const file = join(dir, 'prompt.txt');
      writeFileSync(file, '/demo permission=edit\nx');
      const command = [process.execPath, CLI, ...run('--format', 'json', '-f', file)].map((word) => `'${word}'`).join(' ');
      const terminal = spawn(script, ['-qec', command, '/dev/null']);
      let output = '';
      terminal.stdout.setEncoding('utf8');
      await new Promise<void>((resolve, reject) => {
        terminal.stdout.on('data', (chunk: string) => {
          output += chunk;
          if (output.includes('Choose 1-3: ')) {
            terminal.stdout.removeAllListeners('data');
            terminal.stdout.on('data', (more: string) => (output += more));
            resolve();
          }
        });
        terminal.on('close', () => reject(new Error(`the terminal closed before the question:\n${output}`)));
      });
      assert.match(output, /The agent asks for permission: Demo edit of demo\.txt \(edit\) for profile "demo"\r?\n {2}1\) Allow once \[allow_once\]/);
      terminal.stdin.write('2\r');
      const code = await new Promise((resolve) => terminal.on('close', resolve));
      assert.equal(code, 0, output);
      const lines = output.split(/\r?\n/).filter((line) => line.startsWith('{"v":1'));
      const answered = lines.map((line) => parseRunEvent(line)).find((event) => event.type === 'permission_answered');
      assert.deepEqual({ ...answered, seq: 0, elapsedMs: 0 }, {
        v: 1, seq: 0, elapsedMs: 0, type: 'permission_answered', requestId: 1, outcome: 'selected', optionId: 'allow-always', allowed: true, decidedBy: 'user',
      });
      assert.match(output, /"type":"done".*"text":"permission granted \(allow-always\)"/);
    });
  });
});

describe('run events: translating what each adapter reports', () => {
  it('reads ACP usage_update as usage, and keeps unknown updates under their own name', () => {
    assert.deepEqual(translateAgentEvent({ kind: 'other', raw: { sessionUpdate: 'usage_update', used: 1200, size: 200000, cost: { amount: 0.03, currency: 'USD' } } }), {
      type: 'usage',
      contextUsed: 1200,
      contextSize: 200000,
      sessionCostUsd: 0.03,
    });
    assert.deepEqual(translateAgentEvent({ kind: 'other', raw: { sessionUpdate: 'usage_update', used: 5, size: 10, cost: { amount: 9, currency: 'EUR' } } }), {
      type: 'usage',
      contextUsed: 5,
      contextSize: 10,
      sessionCostUsd: null,
    });
    const commands = { sessionUpdate: 'available_commands_update', availableCommands: [] };
    assert.deepEqual(translateAgentEvent({ kind: 'other', raw: commands }), { type: 'other', name: 'available_commands_update', raw: commands });
  });

  it('finds tool ids and plans under the names codex-exec and Claude use', () => {
    assert.deepEqual(translateAgentEvent({ kind: 'tool-call', text: 'ls', raw: { type: 'item.started', item: { id: 'item_1', type: 'command_execution', status: 'in_progress' } } }), {
      type: 'tool_call',
      toolCallId: 'item_1',
      title: 'ls',
      kind: 'command_execution',
      status: 'in_progress',
    });
    assert.deepEqual(translateAgentEvent({ kind: 'tool-call', text: 'Read', raw: { type: 'tool_use', id: 'toolu_1', name: 'Read' } }), {
      type: 'tool_call',
      toolCallId: 'toolu_1',
      title: 'Read',
      kind: null,
      status: null,
    });
    assert.deepEqual(translateAgentEvent({ kind: 'plan', raw: { type: 'item.updated', item: { type: 'todo_list', items: [{ text: 'a', completed: true }, { text: 'b', completed: false }] } } }), {
      type: 'plan',
      entries: [
        { content: 'a', priority: null, status: 'completed' },
        { content: 'b', priority: null, status: 'pending' },
      ],
    });
    assert.equal(translateAgentEvent({ kind: 'text', text: '' }), undefined, 'empty chunks are not events');
  });
});

async function untilSlotTaken(dir: string): Promise<void> {
  for (let attempt = 0; attempt < 400; attempt++) {
    try {
      if (readdirSync(join(dir, 'slots')).some((name) => name.startsWith('slot-'))) return;
    } catch {
      // not created yet
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('the run never took a budget slot');
}
