import assert from 'node:assert/strict';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { PoolError } from '../../../src/core/pool/errors';
import { closeAll, demoPool, demoProfile, isAlive, nextEvent, recordEvents, timersBesidesWatchdog } from './helpers';
import { ManualClock } from './manualClock';

function codeOf(error: unknown): string | undefined {
  return (error as { code?: string }).code;
}

describe('agent pool with real demo agents: faults and supervision', function () {
  this.timeout(20_000);
  afterEach(closeAll);

  it('catches a hang with the idle watchdog: cancel, kill the process group, serve again from a fresh agent', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, idleWatchdogMs: 300, cancelGraceMs: 200 });
    await pool.start();
    const hungPid = pool.snapshot().agents[0].pid!;
    const exited = nextEvent(pool, 'agent-exited');
    await assert.rejects(pool.run('/demo hang\nstuck'), (error: unknown) => {
      assert.equal(codeOf(error), 'TURN_IDLE_TIMEOUT');
      assert.match((error as Error).message, /sent nothing for \d+ ms \(idle watchdog 300 ms\)/);
      return true;
    });
    await exited;
    assert.equal(isAlive(hungPid), false);
    const next = await pool.run('alive again');
    assert.equal(next.text, 'alive again');
    assert.notEqual(pool.snapshot().agents[0].pid, hungPid);
  });

  it('a first event that never comes fails the turn early, kills the agent, and counts toward the circuit', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, idleWatchdogMs: 60_000, firstEventTimeoutMs: 300, cancelGraceMs: 200, circuitFailureThreshold: 2, circuitCooldownMs: 60_000 });
    await pool.start();
    const firstPid = pool.snapshot().agents[0].pid!;
    for (const attempt of [1, 2]) {
      await assert.rejects(pool.run('/demo hang\nsilent'), (error: unknown) => {
        assert.equal(codeOf(error), 'AGENT_FIRST_EVENT_TIMEOUT', `attempt ${attempt}`);
        assert.match((error as Error).message, /sent nothing within 0\.3 s of the prompt .*Likely causes: no network/);
        return true;
      });
    }
    assert.equal(isAlive(firstPid), false, 'the silent agent was killed');
    assert.equal(pool.snapshot().circuit.state, 'open', 'two first-event timeouts in a row open the circuit');
    assert.match(pool.snapshot().circuit.lastFailure?.message ?? '', /first-event deadline/);
    await assert.rejects(pool.run('x'), (error: unknown) => codeOf(error) === 'POOL_CIRCUIT_OPEN');
  });

  it('never hands out an agent whose turn timed out, even to a request made right after', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, idleWatchdogMs: 300, cancelGraceMs: 200 });
    await pool.start();
    const [hung] = pool.snapshot().agents;
    await assert.rejects(pool.run('/demo hang\nstuck'), (error: unknown) => codeOf(error) === 'TURN_IDLE_TIMEOUT');
    assert.equal(pool.snapshot().agents.find((a) => a.id === hung.id)?.state, 'unhealthy', 'out of service until it is cancelled and killed');
    const next = await pool.run('right after');
    assert.equal(next.text, 'right after');
    assert.notEqual(next.agentId, hung.id);
    assert.equal(isAlive(hung.pid!), false);
  });

  it('closes, stops or restarts an agent whose turn timed out without waiting for the cancel grace', async () => {
    const timedOut = async (pool: ReturnType<typeof demoPool>) => {
      await pool.start();
      const [hung] = pool.snapshot().agents;
      await assert.rejects(pool.run('/demo hang\nstuck'), (error: unknown) => codeOf(error) === 'TURN_IDLE_TIMEOUT');
      return hung;
    };
    const limits = { minAgents: 1, maxAgents: 1, idleWatchdogMs: 200, cancelGraceMs: 5_000, autoscale: false };

    // A caller holding its lease past the timeout cannot send the dying process another prompt.
    const holding = demoPool(limits);
    await holding.start();
    const lease = await holding.acquire();
    await assert.rejects(lease.prompt('/demo hang\nstuck'), (error: unknown) => codeOf(error) === 'TURN_IDLE_TIMEOUT');
    await assert.rejects(lease.prompt('again'), /its last turn timed out and it is being restarted/);
    lease.release();

    const closing = demoPool(limits);
    const first = await timedOut(closing);
    await closing.close();
    assert.equal(isAlive(first.pid!), false);

    const restarting = demoPool(limits);
    const second = await timedOut(restarting);
    await restarting.restartAgent(second.id);
    const [after] = restarting.snapshot().agents;
    assert.deepEqual([after.id, after.state], [second.id, 'idle']);
    assert.notEqual(after.pid, second.pid);
    assert.equal((await restarting.run('served again')).text, 'served again');

    const stopping = demoPool(limits);
    const third = await timedOut(stopping);
    const stopped = nextEvent(stopping, 'agent-state', (e) => e.agentId === third.id && e.to === 'stopped');
    stopping.stopAgent(third.id);
    await stopped;
    assert.equal(isAlive(third.pid!), false);
  });

  it('bounds a chatty turn with the deadline even while events keep coming', async () => {
    const pool = demoPool({ minAgents: 1, maxAgents: 1, idleWatchdogMs: 5000, turnDeadlineMs: 400 });
    await pool.start();
    const events = recordEvents(pool);
    await assert.rejects(pool.run('/demo chunks=40 latency=4000\nslowly streamed'), (error: unknown) => codeOf(error) === 'TURN_DEADLINE_EXCEEDED');
    await nextEvent(pool, 'agent-exited');
    const turn = events.find((e) => e.type === 'turn-finished');
    assert.ok(turn && turn.type === 'turn-finished' && turn.outcome === 'timed-out');
  });

  it('restarts a crashed agent under the same id: at once after a first crash, with jittered exponential backoff for crashes in a row', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, rng: () => 1, restartBaseDelayMs: 1000, restartMaxDelayMs: 8000, minAgents: 1, maxAgents: 1, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
    await pool.start();
    const [original] = pool.snapshot().agents;
    const crash = async (text: string) => {
      const restart = nextEvent(pool, 'restart');
      await assert.rejects(pool.run(`/demo crash\n${text}`), (error: unknown) => codeOf(error) === 'AGENT_CRASHED' || codeOf(error) === 'POOL_AGENT_LOST');
      return restart;
    };

    // First crash: no backoff, the replacement spawns at once, without the clock moving.
    const readyAtOnce = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    const first = await crash('boom');
    assert.deepEqual({ agentId: first.agentId, attempt: first.attempt, delayMs: first.delayMs }, { agentId: original.id, attempt: 1, delayMs: 0 });
    await readyAtOnce;
    assert.equal(isAlive(original.pid!), false);
    const [restarted] = pool.snapshot().agents;
    assert.deepEqual([restarted.id, restarted.restarts], [original.id, 1]);
    assert.notEqual(restarted.pid, original.pid);

    // A second crash with no successful turn in between backs off from the base delay, then doubles.
    const second = await crash('boom again');
    assert.deepEqual([second.attempt, second.delayMs], [2, 1000]);
    assert.deepEqual(timersBesidesWatchdog(clock), [1000], 'nothing spawns before the backoff delay');
    const ready = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    clock.advance(1000);
    await ready;
    const third = await crash('and again');
    assert.deepEqual([third.attempt, third.delayMs], [3, 2000]);
    const readyAgain = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    clock.advance(2000);
    await readyAgain;
    assert.equal((await pool.run('fine now')).text, 'fine now');

    // A good turn ends the streak: the next crash restarts at once again.
    const readyOnceMore = nextEvent(pool, 'agent-state', (e) => e.to === 'idle');
    const afterGoodTurn = await crash('one-off');
    assert.deepEqual([afterGoodTurn.attempt, afterGoodTurn.delayMs], [1, 0]);
    await readyOnceMore;
    assert.equal(pool.snapshot().circuit.state, 'closed');
  });

  it('opens the circuit at once on a rate limit, refuses work with the reason, half-opens after the cooldown and closes on a good trial', async () => {
    const clock = new ManualClock();
    const pool = demoPool({ clock, circuitCooldownMs: 30_000, minAgents: 1, maxAgents: 1 });
    await pool.start();
    const circuit: string[] = [];
    pool.onDidEvent((e) => e.type === 'circuit' && circuit.push(e.state));
    await assert.rejects(pool.run('/demo error=rate-limit\nx'), (error: unknown) => codeOf(error) === 'AGENT_RATE_LIMITED');
    assert.equal(pool.snapshot().circuit.state, 'open');
    assert.match(pool.snapshot().circuit.reason!, /rate/i);
    await assert.rejects(pool.acquire(), (error: unknown) => {
      assert.ok(error instanceof PoolError && error.code === 'POOL_CIRCUIT_OPEN' && error.waitReason === 'circuit-open');
      assert.match(error.message, /Agent profile "demo" is paused \(circuit open\): .*rate/i);
      return true;
    });
    clock.advance(30_000);
    assert.equal(pool.snapshot().circuit.state, 'half-open');
    assert.equal((await pool.run('trial')).text, 'trial');
    assert.equal(pool.snapshot().circuit.state, 'closed');
    assert.deepEqual(circuit, ['open', 'half-open', 'closed']);
  });

  it('opens the circuit after N consecutive failed turns', async () => {
    const pool = demoPool({ circuitFailureThreshold: 2, minAgents: 1, maxAgents: 1 });
    await pool.start();
    await assert.rejects(pool.run('/demo error=internal\none'));
    assert.equal(pool.snapshot().circuit.state, 'closed');
    await assert.rejects(pool.run('/demo error=internal\ntwo'));
    assert.equal(pool.snapshot().circuit.state, 'open');
    assert.match(pool.snapshot().circuit.reason!, /^2 failures in a row/);
  });

  for (const [name, profileChange, expected] of [
    ['a missing binary', { command: '/nonexistent/bin/agent-that-is-not-here' }, /could not start/],
    ['an agent that exits at start', { env: { ...demoProfile().env, DEMO_AGENT_EXIT_AT_START: '3' } }, /could not start/],
    ['an agent without credentials (auth error at session/new)', { env: { ...demoProfile().env, DEMO_AGENT_SESSION_ERROR: 'auth' } }, /could not start/],
  ] as const) {
    it(`surfaces ${name} once, naming the profile and command, with no restart loop`, async () => {
      const clock = new ManualClock();
      const budget = new InProcessBudget(4);
      const pool = demoPool({ clock, budget, restartBaseDelayMs: 10, circuitCooldownMs: 60_000, minAgents: 2, maxAgents: 2, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0 });
      (pool.options.profile as { command: string }).command = 'command' in profileChange ? profileChange.command : pool.options.profile.command;
      if ('env' in profileChange) (pool.options.profile as { env: Record<string, string> }).env = profileChange.env;
      const events = recordEvents(pool);
      await assert.rejects(pool.start(), (error: unknown) => {
        assert.equal(codeOf(error), 'POOL_CIRCUIT_OPEN');
        assert.match((error as Error).message, /Agent profile "demo" could not start \(command ".+"\): /);
        assert.match((error as Error).message, expected);
        return true;
      });
      assert.equal(pool.snapshot().circuit.state, 'open');
      assert.equal(budget.snapshot().used, 0, 'slots of failed starts are released');
      const startsBefore = events.filter((e) => e.type === 'agent-state' && e.to === 'starting').length;
      assert.ok(startsBefore <= 2, `${startsBefore} starts for 2 warm agents`);
      assert.deepEqual(clock.pendingDelays, [60_000], 'only the circuit cooldown is pending: no restart is scheduled');
      assert.equal(events.filter((e) => e.type === 'restart').length, 0);
      await assert.rejects(pool.run('x'), (error: unknown) => codeOf(error) === 'POOL_CIRCUIT_OPEN');
    });
  }
});
