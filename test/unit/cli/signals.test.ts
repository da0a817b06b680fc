import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CLI, assertBuilt } from './cliProcess';

/**
 * Signals against the real built CLI and the real demo agent (with a helper child in its process
 * group, like codex-acp's native binary): a second SIGINT or SIGTERM, however soon, never leaves
 * the window record, a budget slot or any process of the agent's group behind.
 */
describe('agent-pool run: signals (built binary, real demo agent)', function () {
  this.timeout(60_000);
  let dir: string;

  beforeEach(() => {
    assertBuilt();
    dir = mkdtempSync(join(tmpdir(), 'ap-signals-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function startRun(): { child: ChildProcess; stderr: () => string; exited: Promise<number | null> } {
    const child = spawn(process.execPath, [CLI, '--dir', dir, 'run', '--profile', 'demo', '/demo hang\nnever answered'], {
      env: { ...process.env, DEMO_AGENT_CHILD: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdout!.resume();
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    return { child, stderr: () => stderr, exited };
  }

  /** Resolves with the agent's pid once its turn is running (the window's metrics say busy). */
  async function untilBusy(run: { exited: Promise<number | null>; stderr: () => string }): Promise<number> {
    let exited = false;
    void run.exited.then(() => (exited = true));
    for (let attempt = 0; attempt < 800; attempt++) {
      if (exited) throw new Error(`the run ended before its turn started: ${run.stderr()}`);
      const busyPid = readBusyAgentPid();
      if (busyPid !== undefined) return busyPid;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error(`the turn never started: ${run.stderr()}`);
  }

  function readBusyAgentPid(): number | undefined {
    const instances = join(dir, 'instances');
    if (!existsSync(instances)) return undefined;
    for (const name of readdirSync(instances).filter((n) => n.endsWith('.metrics.json'))) {
      try {
        const snapshot = JSON.parse(readFileSync(join(instances, name), 'utf8')) as { agents: Array<{ state: string; pid?: number }> };
        const busy = snapshot.agents.find((agent) => agent.state === 'busy' && agent.pid);
        if (busy) return busy.pid;
      } catch {
        // mid-write: the next poll reads the whole file
      }
    }
    return undefined;
  }

  async function assertNothingLeft(agentPid: number): Promise<void> {
    const records = readdirSync(join(dir, 'instances')).filter((name) => !name.startsWith('.'));
    assert.deepEqual(records, [], 'the window record (or its metrics) was left in the registry');
    const slots = readdirSync(join(dir, 'slots')).filter((name) => name.startsWith('slot-'));
    assert.deepEqual(slots, [], 'a budget slot was left taken');
    // The agent leads its own process group; its helper child is in it too. The group got SIGKILL
    // when the agent exited; the kernel takes a moment to reap a killed process, so poll briefly.
    const deadline = Date.now() + 3000;
    while (groupAlive(agentPid) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(groupAlive(agentPid), false, `a process of the agent's group ${agentPid} is still running`);
  }

  for (const [signal, exitCode] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`a single ${signal} mid-turn cancels the turn and exits ${exitCode}`, async () => {
      const run = startRun();
      const agentPid = await untilBusy(run);
      run.child.kill(signal);
      assert.equal(await run.exited, exitCode, run.stderr());
      await assertNothingLeft(agentPid);
    });

    it(`two ${signal}s 20 ms apart mid-turn: exit ${exitCode}, record, slot and agent group all gone`, async () => {
      const run = startRun();
      const agentPid = await untilBusy(run);
      run.child.kill(signal);
      await new Promise((resolve) => setTimeout(resolve, 20));
      run.child.kill(signal);
      assert.equal(await run.exited, exitCode, run.stderr());
      await assertNothingLeft(agentPid);
    });
  }

  it('SIGINT, then SIGTERM and SIGINT during the cleanup: the first decides the exit code', async () => {
    const run = startRun();
    const agentPid = await untilBusy(run);
    run.child.kill('SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 20));
    run.child.kill('SIGTERM');
    run.child.kill('SIGINT');
    assert.equal(await run.exited, 130, run.stderr());
    await assertNothingLeft(agentPid);
  });
});

function groupAlive(groupId: number): boolean {
  try {
    process.kill(-groupId, 0);
    return true;
  } catch {
    return false;
  }
}
