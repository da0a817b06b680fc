import assert from 'node:assert/strict';
import { PoolError } from '../../../src/core/pool/errors';
import { closeAll, demoPool, isAlive, nextEvent, recordEvents, timersBesidesWatchdog } from './helpers';
import { ManualClock } from './manualClock';

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

/** Everything a user's restart must not touch: crash counts, restart events, the circuit. */
function assertNoCrashAccounted(pool: ReturnType<typeof demoPool>, events: ReturnType<typeof recordEvents>): void {
  assert.equal(events.filter((e) => e.type === 'restart').length, 0, 'a user restart is not a crash restart');
  assert.equal(pool.breaker.failures, 0, 'a user restart does not count for the circuit');
  assert.equal(pool.snapshot().circuit.state, 'closed');
}

describe('agent pool with real demo agents: restart on request', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('restarts an idle agent at once under the same id with a new process, back to minAgents', async () => {
    // A manual clock that never moves: the restart must not wait for any timer (no backoff).
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 2, maxAgents: 3, restartBaseDelayMs: 20_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const events = recordEvents(pool);
    const [target, other] = pool.snapshot().agents;
    await pool.restartAgent(target.id);
    const after = pool.snapshot().agents;
    const restarted = after.find((a) => a.id === target.id)!;
    assert.equal(restarted.state, 'idle');
    assert.notEqual(restarted.pid, target.pid);
    assert.equal(isAlive(target.pid!), false);
    assert.equal(restarted.restarts, 0, '`restarts` counts crash restarts only');
    assert.deepEqual(after.map((a) => a.id).sort(), [target.id, other.id].sort());
    assert.deepEqual(after.map((a) => a.state), ['idle', 'idle'], 'back to minAgents, nothing extra spawned');
    assert.equal(after.find((a) => a.id === other.id)!.pid, other.pid, 'the other agent is untouched');
    const path = events.filter((e) => e.type === 'agent-state' && e.agentId === target.id).map((e) => (e.type === 'agent-state' ? e.to : ''));
    assert.deepEqual(path, ['recycling', 'stopped', 'starting', 'idle']);
    assertNoCrashAccounted(pool, events);
    assert.equal((await pool.run('after restart', { agentId: target.id })).text, 'after restart');
  });

  it('fails a running turn at once with POOL_AGENT_LOST saying the user restarted the agent, then serves again', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, minAgents: 1, maxAgents: 1, restartBaseDelayMs: 20_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const events = recordEvents(pool);
    const [agent] = pool.snapshot().agents;
    const busy = nextEvent(pool, 'agent-state', (e) => e.to === 'busy');
    const turn = pool.run('/demo hang\nnever ends');
    await busy;
    const restarted = pool.restartAgent(agent.id);
    await assert.rejects(turn, (error: unknown) => {
      assert.ok(error instanceof PoolError);
      assert.equal(error.code, 'POOL_AGENT_LOST');
      assert.match(error.message, new RegExp(`Agent ${agent.id} of profile "demo" was restarted by the user during this turn`));
      return true;
    });
    await restarted;
    const [after] = pool.snapshot().agents;
    assert.deepEqual([after.id, after.state], [agent.id, 'idle']);
    assert.notEqual(after.pid, agent.pid);
    assert.equal(isAlive(agent.pid!), false);
    const finished = events.find((e) => e.type === 'turn-finished');
    assert.ok(finished?.type === 'turn-finished' && finished.outcome === 'cancelled', 'counted as cancelled, not as a failure');
    assertNoCrashAccounted(pool, events);
    assert.equal((await pool.run('served again')).text, 'served again');
  });

  it('cuts a crash backoff short, and joins a second request made while the first runs', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, rng: () => 1, minAgents: 1, maxAgents: 1, restartBaseDelayMs: 60_000, restartMaxDelayMs: 60_000, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const [agent] = pool.snapshot().agents;
    const readyAfterFirstCrash = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    await assert.rejects(pool.run('/demo crash\nfirst'));
    await readyAfterFirstCrash;
    const backoff = nextEvent(pool, 'restart', (e) => e.attempt === 2);
    await assert.rejects(pool.run('/demo crash\nsecond in a row'));
    assert.equal((await backoff).delayMs, 60_000);
    assert.deepEqual(timersBesidesWatchdog(clock), [60_000]);
    const first = pool.restartAgent(agent.id);
    const second = pool.restartAgent(agent.id);
    await Promise.all([first, second]);
    assert.deepEqual(timersBesidesWatchdog(clock), [], 'the backoff timer is gone');
    const [after] = pool.snapshot().agents;
    assert.deepEqual([after.id, after.state], [agent.id, 'idle']);
    assert.equal((await pool.run('back')).text, 'back');
  });

  it('refuses unknown agents at once and closes without a stray rejection', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1 });
    await pool.start();
    assert.throws(() => pool.restartAgent('demo-42'), (error: unknown) => codeOf(error) === 'POOL_AGENT_NOT_FOUND' && /no agent "demo-42" to restart/.test((error as Error).message));
    // Restart then close at once: the ignored promise must not surface as an unhandled rejection.
    void pool.restartAgent(pool.snapshot().agents[0].id);
    await pool.close();
  });
});
