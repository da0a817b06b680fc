import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentError } from '../../../src/core/agents/agentError';
import { BudgetError } from '../../../src/core/budget/budget';
import { AgentPoolError } from '../../../src/core/common/errors';
import { PoolError } from '../../../src/core/pool/errors';
import { EXIT_CODE_TABLE, ExitCode, exitCodeForError, exitCodeForStopReason, exitCodeMarkdown } from '../../../src/cli/exitCodes';
import { repoRoot } from '../../fixtures/repoRoot';
import { RunningCli, assertBuilt, runBuiltCli } from './cliProcess';

describe('exit codes', () => {
  it('are the documented, stable numbers', () => {
    assert.deepEqual(
      EXIT_CODE_TABLE.map((entry) => [entry.code, entry.name]),
      [
        [0, 'ok'],
        [1, 'failure'],
        [2, 'usage'],
        [3, 'budgetOrTimeout'],
        [130, 'interrupted'],
        [143, 'terminated'],
      ],
    );
    for (const entry of EXIT_CODE_TABLE) assert.equal(ExitCode[entry.name], entry.code);
  });

  it('the README shows the same table as src/cli/exitCodes.ts', () => {
    const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
    const match = /<!-- exit-codes:begin -->\n([\s\S]*?)\n<!-- exit-codes:end -->/.exec(readme);
    assert.ok(match, 'README.md has no exit-codes:begin/end block');
    assert.equal(match[1], exitCodeMarkdown(), 'README exit-code table is out of date: paste exitCodeMarkdown() into it');
  });

  it('classify the errors the core throws', () => {
    const agent = (code: ConstructorParameters<typeof AgentError>[0]) => new AgentError(code, 'x', { profile: 'demo' });
    assert.equal(exitCodeForError(new BudgetError('BUDGET_EXHAUSTED', 'x')), 3);
    assert.equal(exitCodeForError(new PoolError('POOL_ACQUIRE_TIMEOUT', 'x')), 3);
    assert.equal(exitCodeForError(new PoolError('POOL_QUEUE_FULL', 'x')), 3);
    assert.equal(exitCodeForError(new PoolError('TURN_IDLE_TIMEOUT', 'x')), 3);
    assert.equal(exitCodeForError(new PoolError('TURN_DEADLINE_EXCEEDED', 'x')), 3);
    assert.equal(exitCodeForError(agent('AGENT_HANDSHAKE_TIMEOUT')), 3);
    assert.equal(exitCodeForError(new AgentPoolError('UNKNOWN_PROFILE', 'x')), 2);
    assert.equal(exitCodeForError(agent('AGENT_AUTH_REQUIRED')), 1);
    assert.equal(exitCodeForError(agent('AGENT_CRASHED')), 1);
    assert.equal(exitCodeForError(new PoolError('POOL_CIRCUIT_OPEN', 'x')), 1);
    assert.equal(exitCodeForError(new BudgetError('BUDGET_UNAVAILABLE', 'x')), 1);
    assert.equal(exitCodeForError(new Error('plain')), 1);
    assert.equal(exitCodeForError('a string'), 1);
  });

  it('classify stop reasons, cancelled by the signal that caused it', () => {
    assert.equal(exitCodeForStopReason('end_turn'), 0);
    for (const reason of ['refusal', 'max_tokens', 'max_turn_requests']) assert.equal(exitCodeForStopReason(reason), 1, reason);
    assert.equal(exitCodeForStopReason('cancelled'), 130);
    assert.equal(exitCodeForStopReason('cancelled', 'SIGTERM'), 143);
  });
});

/** Every row of the table, produced by the real binary with the real demo agent. */
describe('exit codes of the built binary', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-exit-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  async function untilSlotTaken(): Promise<void> {
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

  it('0 for an answered turn, 1 for an agent failure, 2 for usage', async () => {
    assert.equal((await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', 'hi'])).code, 0);
    const failed = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '/demo error=internal\nhi']);
    assert.equal(failed.code, 1, failed.stderr);
    const unknownProfile = await runBuiltCli(['--dir', dir, 'run', '--profile', 'nope', 'hi']);
    assert.equal(unknownProfile.code, 2, unknownProfile.stderr);
    const badWait = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--wait', 'soon', 'hi']);
    assert.equal(badWait.code, 2);
    assert.match(badWait.stderr, /"soon" is not a duration/);
    assert.equal((await runBuiltCli(['no-such-command'])).code, 2);
  });

  it('1 at once when the registry directory is unusable, said once with the flag to use', async () => {
    const notADirectory = join(dir, 'a-file');
    writeFileSync(notADirectory, '');
    const started = Date.now();
    const result = await runBuiltCli(['--dir', notADirectory, 'run', '--profile', 'demo', '--wait', '30s', 'hi']);
    assert.equal(result.code, 1, result.stderr);
    assert.ok(Date.now() - started < 25_000, 'it failed without waiting out --wait');
    assert.match(result.stderr, /a-file cannot be used[\s\S]*--dir <path>/);
    assert.equal(result.stderr.match(/cannot be used/g)?.length, 1, `the problem is told once:\n${result.stderr}`);
  });

  it('3 when the shared budget stays exhausted, naming the flags that help', async () => {
    const holder = new RunningCli(['--dir', dir, 'run', '--profile', 'demo', '--max-agents-total', '1', '/demo hang\nholding the only slot']);
    try {
      await untilSlotTaken();
      const refused = await runBuiltCli(['--dir', dir, 'run', '--profile', 'demo', '--max-agents-total', '1', '--wait', '500ms', 'hi']);
      assert.equal(refused.code, 3, refused.stderr);
      assert.match(refused.stderr, /budget is exhausted[\s\S]*--wait <duration>[\s\S]*--max-agents-total <n>/);
    } finally {
      await holder.stop('SIGINT');
    }
  });

  it('130 on SIGINT and 143 on SIGTERM during a turn', async () => {
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const run = new RunningCli(['--dir', dir, 'run', '--profile', 'demo', '/demo hang\nnever answered']);
      await untilSlotTaken();
      assert.equal(await run.stop(signal), code, signal);
      // The slot is given back before exit, so the next round waits for its own run.
      assert.deepEqual(
        readdirSync(join(dir, 'slots')).filter((name) => name.startsWith('slot-')),
        [],
      );
    }
  });
});
