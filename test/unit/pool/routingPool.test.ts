import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { AgentPool } from '../../../src/core/pool/pool';
import { pairKey } from '../../../src/core/pool/routers/affinity';
import { FakeAgent } from './fakeAgent';
import { closeAll, demoPool, demoProfile, nextEvent } from './helpers';
import { ManualClock } from './manualClock';

describe('agent pool routing with real demo agents', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('sticky session keeps a conversation on one agent and session, and resumes that session when the agent dies', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, strategy: 'sticky-session', minAgents: 2, maxAgents: 2, autoscale: false, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const first = await pool.run('hello', { sessionKey: 'chat-1' });
    await pool.run('filler one');
    const second = await pool.run('again', { sessionKey: 'chat-1' });
    assert.equal(second.agentId, first.agentId);
    assert.equal(second.sessionId, first.sessionId);
    const pid = pool.snapshot().agents.find((a) => a.id === first.agentId)!.pid!;
    const stopped = nextEvent(pool, 'agent-state', (e) => e.agentId === first.agentId && e.to === 'stopped');
    process.kill(pid, 'SIGKILL');
    await stopped;
    const moved = await pool.run('/demo recall', { sessionKey: 'chat-1' });
    assert.notEqual(moved.agentId, first.agentId);
    // Issue 12 replaced "the session id changes": the other agent resumes the same session, with its context.
    assert.equal(moved.sessionId, first.sessionId);
    assert.equal(moved.continuity, 'resumed');
    assert.equal(moved.text, 'hello\nagain');
    const followUp = await pool.run('follow-up', { sessionKey: 'chat-1' });
    assert.deepEqual([followUp.agentId, followUp.sessionId], [moved.agentId, moved.sessionId]);
  });

  it('module-pair affinity sends a pair back to the agent that served it, and dedicated agents serve only their pair', async () => {
    const pool = demoPool({ strategy: 'module-affinity', dedicatedPairs: true, minAgents: 2, maxAgents: 2, autoscale: false });
    await pool.start();
    const ui = await pool.run('one', { sourceModule: 'ui', targetModule: 'api' });
    const db = await pool.run('two', { sourceModule: 'db', targetModule: 'api' });
    assert.notEqual(db.agentId, ui.agentId, 'the ui->api agent is dedicated');
    for (let i = 0; i < 3; i++) assert.equal((await pool.run('again', { sourceModule: 'ui', targetModule: 'api' })).agentId, ui.agentId);
    const held = await pool.acquire({ sourceModule: 'ui', targetModule: 'api' });
    assert.equal(held.agentId, ui.agentId);
    await assert.rejects(pool.acquire({ sourceModule: 'ui', targetModule: 'api', timeout: 200 }), (error: unknown) => (error as { waitReason?: string }).waitReason === 'all-agents-busy');
    held.release();
    assert.equal(pool.affinity.pairs.get(pairKey('ui', 'api')!)!.scoreOf(ui.agentId), 4);

    // A crash restarts the agent under the same id, but its new process has seen nothing of the pair.
    const restarted = nextEvent(pool, 'agent-state', (e) => e.agentId === ui.agentId && e.from === 'starting' && e.to === 'idle');
    process.kill(pool.snapshot().agents.find((a) => a.id === ui.agentId)!.pid!, 'SIGKILL');
    await restarted;
    assert.equal(pool.affinity.pairs.get(pairKey('ui', 'api')!), undefined, 'the scores went with the process');
    assert.equal(pool.affinity.dedicated!.has(ui.agentId), false, 'and so did the dedication');
    assert.equal(pool.affinity.dedicated!.get(db.agentId), pairKey('db', 'api'));
  });

  it('checks health before hand-out and replaces an agent found dead', async () => {
    const fakes: FakeAgent[] = [];
    const pool = new AgentPool({
      profile: demoProfile(),
      createConnection: (profile) => {
        const fake = new FakeAgent(profile);
        fakes.push(fake);
        return fake;
      },
      budget: new InProcessBudget(4),
      cwd: '/tmp',
      minAgents: 1,
      maxAgents: 1,
    });
    await pool.start();
    fakes[0].alive = false;
    const unhealthy = nextEvent(pool, 'agent-state', (e) => e.to === 'unhealthy');
    const lease = await pool.acquire();
    assert.match((await unhealthy).reason!, /health check before hand-out/);
    assert.equal(fakes.length, 2);
    assert.notEqual(lease.agentId, pool.snapshot().agents.find((a) => a.pid === fakes[0].process!.pid)?.id);
    lease.release();
    await pool.close();
  });

  it('leaves no agent process behind when the owning process is SIGKILLed', async function () {
    const marker = `orphan-${process.pid}-${Date.now()}`;
    const owner = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'fixtures', 'poolOwner.ts'), marker], { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await new Promise<string>((resolve, reject) => {
      let buffer = '';
      owner.stdout!.on('data', (chunk: Buffer) => {
        buffer += chunk.toString();
        if (buffer.includes('\n')) resolve(buffer.split('\n')[0]);
      });
      owner.once('exit', (code) => reject(new Error(`owner exited early with ${code}`)));
    });
    const { pids } = JSON.parse(line) as { pids: number[] };
    assert.equal(pids.length, 2);
    const before = processesWithMarker(marker);
    assert.ok(before.length >= 4, `expected 2 agents and their helper children, found ${before.length}`);
    const ownerGone = new Promise((resolve) => owner.once('exit', resolve));
    owner.kill('SIGKILL');
    await ownerGone;
    // The guardian notices the owner's death and kills the agents' process groups. Nothing signals
    // the death of processes we do not parent, so poll /proc, bounded.
    const deadline = Date.now() + 8_000;
    while (processesWithMarker(marker).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.deepEqual(processesWithMarker(marker), [], 'agent processes survived their owner');
  });
});

/** Pids whose environment carries the marker: the agents and everything they started. */
function processesWithMarker(marker: string): number[] {
  const found: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readFileSync(`/proc/${name}/environ`, 'latin1').includes(`AGENT_POOL_ORPHAN_MARKER=${marker}`)) found.push(Number(name));
    } catch {
      // Gone or not ours.
    }
  }
  return found;
}
