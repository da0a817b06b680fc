import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseRunEvent, type DoneEvent, type QueuedEvent, type RunEvent } from '../../../src/cli/output/runEvents';
import type { ConversationExport, ExportedTurn } from '../../../src/cli/output/transcriptExport';
import { RunningCli, assertBuilt, runBuiltCli } from './cliProcess';

function events(stdout: string): RunEvent[] {
  return stdout
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => parseRunEvent(line));
}

function exited(cli: RunningCli): Promise<number | null> {
  return cli.child.exitCode !== null ? Promise.resolve(cli.child.exitCode) : new Promise((resolve) => cli.child.once('exit', (code) => resolve(code)));
}

/** The prompts the demo agent remembers in the session (`/demo recall`), the waiters' only. */
function recalled(cli: RunningCli): string[] {
  const done = events(cli.output).at(-1) as DoneEvent;
  return done.text.split('\n').filter((line) => /^waiter \d$/.test(line));
}

/**
 * Three and more prompts for one busy conversation, each from its own process: they run one after
 * another in the order they came (a ticket each in the conversation's line), never interleaved,
 * and a waiter killed in the line holds nobody up.
 */
describe('agent-pool run --session: the line of waiting prompts (built binary, real demo agents)', function () {
  this.timeout(120_000);
  let dir: string;
  const run = (...args: string[]) => ['--dir', dir, 'run', '--profile', 'demo', '--session', 'line', '--format', 'json', ...args];
  const started: RunningCli[] = [];

  beforeEach(async () => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-queue-'));
    // A first turn that ends, so the session is on disk for every later process to resume.
    const seed = await runBuiltCli(run('seed'), 30_000);
    assert.equal(seed.code, 0, seed.stderr);
  });
  afterEach(async () => {
    for (const cli of started.splice(0)) if (cli.child.exitCode === null && cli.child.signalCode === null) await cli.stop('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  /** Starts a process and waits until it reports its place in line (or, for the holder, its turn). */
  async function enter(prompt: string, until: RegExp): Promise<RunningCli> {
    const cli = new RunningCli(run(prompt));
    started.push(cli);
    await cli.waitForLine(until, 0, 30_000);
    return cli;
  }

  it('four waiters behind a running turn answer in the order they came, each after the one before', async () => {
    const holder = await enter('/demo hang\nheld', /"type":"started"/);
    const waiters: RunningCli[] = [];
    for (let n = 1; n <= 4; n++) waiters.push(await enter(`/demo recall\nwaiter ${n}`, /"type":"queued"/));
    assert.deepEqual(
      waiters.map((waiter) => (events(waiter.output)[0] as QueuedEvent).ahead),
      [1, 2, 3, 4],
      'each was told how many prompts are ahead of it',
    );
    assert.equal(await holder.stop('SIGINT'), 130);
    const codes = await Promise.all(waiters.map(exited));
    assert.deepEqual(codes, [0, 0, 0, 0]);
    // What the agent remembered when each answered: exactly the waiters before it, in order.
    assert.deepEqual(
      waiters.map(recalled),
      [[], ['waiter 1'], ['waiter 1', 'waiter 2'], ['waiter 1', 'waiter 2', 'waiter 3']],
    );
    const exported = await runBuiltCli(['--dir', dir, 'conversations', 'export', 'line', '--format', 'json']);
    const turns = (JSON.parse(exported.stdout) as ConversationExport).entries.filter((entry): entry is ExportedTurn => entry.type === 'turn');
    assert.deepEqual(turns.map((turn) => turn.prompt.split('\n').at(-1)), ['seed', 'held', 'waiter 1', 'waiter 2', 'waiter 3', 'waiter 4']);
    for (let i = 1; i < turns.length; i++) assert.ok(Date.parse(turns[i - 1]!.endedAt) <= Date.parse(turns[i]!.at), `turn ${i} began after turn ${i - 1} ended: never interleaved`);
    assert.equal(existsSync(join(dir, 'conversations')) && readdirSync(join(dir, 'conversations')).some((name) => name.endsWith('.queue')), false, 'the line is gone with its last ticket');
  });

  it('a waiter SIGKILLed in the line does not hold up the ones behind it', async () => {
    const holder = await enter('/demo hang\nheld', /"type":"started"/);
    const first = await enter('/demo recall\nwaiter 1', /"type":"queued"/);
    const killed = await enter('/demo recall\nwaiter 2', /"type":"queued"/);
    const last = await enter('/demo recall\nwaiter 3', /"type":"queued"/);
    assert.equal(await killed.stop('SIGKILL'), null);
    assert.equal(await holder.stop('SIGINT'), 130);
    assert.deepEqual(await Promise.all([exited(first), exited(last)]), [0, 0]);
    assert.deepEqual(recalled(last), ['waiter 1'], 'the last ran right after the first: the killed one never ran');
  });
});
