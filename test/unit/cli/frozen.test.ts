import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, assertBuilt } from './cliProcess';

/**
 * A run whose own process is frozen (SIGSTOP: Ctrl-Z, a laptop asleep) longer than its agent's
 * first-event deadline, then resumed: the agent answers 1 s after the resume, late by the wall
 * clock, early by the run's own unfrozen time, and the turn succeeds. With the deadline on a plain
 * timer it fails at SIGCONT with exit 3. (npm run chaos does the same for the handshake, session/new
 * and the idle watchdog.)
 */
describe('agent-pool run frozen longer than its first-event deadline (built binary, real demo agent)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-frozen-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('answers: time the run spent stopped does not count against the agent', async () => {
    const freezeMs = 5_000;
    // First event 6 s after the prompt; the deadline is 2 s.
    const child = spawn(process.execPath, [CLI, '--dir', dir, 'run', '--profile', 'demo', '--first-event-timeout', '2s', '--verbose', '/demo latency=6000\nanswered after a freeze'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    let frozen: Promise<void> | undefined;
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      if (frozen || !/session\/prompt \S+: sent/.test(stderr)) return;
      // The line is logged as the prompt is handed to the pipe; a moment later it has surely left.
      frozen = new Promise((resolve) =>
        setTimeout(() => {
          child.kill('SIGSTOP');
          setTimeout(() => resolve(void child.kill('SIGCONT')), freezeMs);
        }, 300),
      );
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
    assert.ok(frozen, `the prompt was never sent:\n${stderr}`);
    await frozen;
    assert.equal(code, 0, stderr);
    assert.equal(stdout, 'answered after a freeze\n');
    assert.doesNotMatch(stderr, /first-event deadline/);
  });
});
