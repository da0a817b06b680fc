import * as assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as os from 'node:os';
import * as path from 'node:path';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { isProcessRunning, processGroupMembers, processRssBytes, processTreePids, processTreeRssBytes, readProcStat } from '../../../src/core/process/tree';
import { waitForEvent } from '../../../src/core/common/event';
import { resolveCommand, spawnAgentProcess } from '../../../src/core/process/spawn';
import { ConnectionTracker, demoProfile, distDirectory, findGuardianOf, fixturesDirectory, repoRoot, requireBuild, waitForProcessGone, waitUntil } from './helpers';

describe('process control: guardian, process groups, tree memory', function () {
  this.timeout(15_000);
  const tracker = new ConnectionTracker();
  before(requireBuild);
  afterEach(() => tracker.disposeAll());

  it('runs the agent in its own process group, watched by a guardian that leaves with it', async () => {
    const agent = tracker.create(demoProfile());
    await agent.start();
    const pid = agent.process!.pid;
    const stat = readProcStat(pid)!;
    assert.equal(stat.pgid, pid, 'the agent leads its own process group');
    assert.notEqual(stat.pgid, readProcStat(process.pid)!.pgid);
    assert.equal(stat.ppid, process.pid, 'the agent is our child: its pipes come straight to us');
    assert.equal(agent.process!.startTime, stat.startTime);
    const guardian = findGuardianOf(pid);
    assert.ok(guardian, 'a guardian watches the agent');
    assert.equal(readProcStat(guardian)!.ppid, process.pid);
    await agent.kill(1000);
    await waitForProcessGone(guardian, 2000);
  });

  it('stops the agent when its guardian dies: no agent runs unwatched', async () => {
    const agent = tracker.create(demoProfile());
    await agent.start();
    const pid = agent.process!.pid;
    process.kill(findGuardianOf(pid)!, 'SIGKILL');
    const exit = await waitForEvent(agent.onDidExit);
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(isProcessRunning(pid), false);
  });

  it('kill() of the group also kills the grandchildren', async () => {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_CHILD: '1' }));
    await agent.start();
    const pid = agent.process!.pid;
    const grandchild = await waitUntil(() => processTreePids(pid).find((candidate) => candidate !== pid), 3000, 'the helper child');
    await agent.kill(1000);
    assert.deepEqual(processGroupMembers(pid), []);
    await waitForProcessGone(grandchild, 1000);
  });

  it('counts the whole tree in RSS, and sees memory growth', async () => {
    const agent = tracker.create(demoProfile({}, { DEMO_AGENT_CHILD: '1' }));
    await agent.start();
    const pid = agent.process!.pid;
    await waitUntil(() => processTreePids(pid).find((candidate) => candidate !== pid), 3000, 'the helper child');
    const sessionId = await agent.openSession({ cwd: os.tmpdir() });
    const before = processTreeRssBytes(pid);
    const agentOnly = processRssBytes(pid);
    assert.ok(before > agentOnly, `tree ${before} should exceed the agent alone ${agentOnly}`);
    const result = await agent.prompt({ sessionId, text: '/demo memory=64\n' });
    assert.match(result.text, /holding 64 MB/);
    const after = processTreeRssBytes(pid);
    assert.ok(after - before >= 60 * 1024 * 1024, `grew by ${((after - before) / 1048576).toFixed(1)} MB`);
  });

  it('no agent process survives a SIGKILL of its owner', async () => {
    const owner = spawn(process.execPath, ['--import', 'tsx', path.join(fixturesDirectory, 'owner.ts'), distDirectory], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(owner.stdout!, 'data')) as [Buffer];
      const { agentPid } = JSON.parse(line.toString()) as { agentPid: number };
      const guardianPid = findGuardianOf(agentPid)!;
      assert.ok(guardianPid);
      const grandchild = await waitUntil(() => processTreePids(agentPid).find((candidate) => candidate !== agentPid), 3000, 'the helper child');
      owner.kill('SIGKILL');
      await once(owner, 'exit');
      // Typically gone within 20 ms; the bounds leave room for a loaded 2-core machine (the guardian runs niced).
      const elapsed = await waitForProcessGone(agentPid, 3000);
      await waitForProcessGone(grandchild, 3000);
      await waitForProcessGone(guardianPid, 3000);
      assert.deepEqual(processGroupMembers(agentPid), []);
      assert.ok(elapsed < 2000, `agent gone ${elapsed.toFixed(0)} ms after the owner's death`);
      if (process.env.AGENT_POOL_REPORT_TIMINGS) console.log(`      agent gone ${elapsed.toFixed(0)} ms after the owner's SIGKILL`);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  it('kill escalates SIGTERM to SIGKILL after the grace period', async () => {
    const child = await spawnAgentProcess({
      profile: 'stubborn',
      command: process.execPath,
      args: ['-e', "process.on('SIGTERM', () => console.error('ignoring SIGTERM')); setInterval(() => {}, 1e9); console.log('up')"],
      env: { ...process.env },
      cwd: os.tmpdir(),
      guardianScript: path.join(distDirectory, 'guardian.js'),
    });
    await once(child.stdout, 'data');
    const started = performance.now();
    const exit = await child.kill(300);
    assert.equal(exit.signal, 'SIGKILL');
    assert.equal(exit.expected, true);
    assert.match(exit.stderrTail, /ignoring SIGTERM/);
    assert.ok(performance.now() - started >= 290);
  });

  it('an agent that closed its stdin (EPIPE on our writes) does not crash this process', async () => {
    const child = await spawnAgentProcess({
      profile: 'deaf',
      command: process.execPath,
      args: ['-e', "require('fs').closeSync(0); console.log('closed'); setInterval(() => {}, 1e9)"],
      env: { ...process.env },
      cwd: os.tmpdir(),
      guardianScript: path.join(distDirectory, 'guardian.js'),
    });
    await once(child.stdout, 'data');
    const writeError = await new Promise<Error | null | undefined>((resolve) => child.stdin.write('x'.repeat(1 << 17), resolve));
    assert.match(String(writeError), /EPIPE/);
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(child.hasExited, false);
    await child.kill(0);
  });

  it('resolves commands on PATH without a shell', () => {
    assert.equal(resolveCommand('node', process.env.PATH) !== undefined, true);
    assert.equal(resolveCommand('no-such-binary-4711', process.env.PATH), undefined);
    assert.equal(resolveCommand(process.execPath, ''), process.execPath);
    const plainFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'agent-pool-')), 'not-executable');
    writeFileSync(plainFile, '#!/bin/sh\n', { mode: 0o644 });
    assert.equal(resolveCommand(plainFile, ''), undefined, 'not executable');
    assert.equal(resolveCommand('node; rm -rf /', process.env.PATH), undefined);
  });
});
