import assert from 'node:assert/strict';
import type { PromptResult } from '../../../src/core/agents/adapter';
import { Turn, type TurnHooks } from '../../../src/core/pool/turn';
import { RESUME_GRACE_MS } from '../../../src/core/common/unfrozenClock';
import { TurnWatchdog } from '../../../src/core/pool/watchdog';
import { FakeAgent } from './fakeAgent';
import { demoProfile } from './helpers';
import { ManualClock } from './manualClock';

async function settledWith(promise: Promise<PromptResult>): Promise<{ result?: PromptResult; code?: string }> {
  try {
    return { result: await promise };
  } catch (error) {
    return { code: (error as { code?: string }).code };
  }
}

describe('turn supervision (one watchdog timer per pool)', () => {
  const limits = (clock: ManualClock, firstEventTimeoutMs = 60_000) => ({ idleWatchdogMs: 300, turnDeadlineMs: 2000, firstEventTimeoutMs, cancelGraceMs: 100, clock });

  async function setup() {
    const clock = new ManualClock();
    const agent = new FakeAgent(demoProfile());
    await agent.start();
    const expired: string[] = [];
    const hooks: TurnHooks = { onExpired: (kind) => void expired.push(kind), onCancelUnanswered: () => void expired.push('cancel-unanswered') };
    return { clock, agent, expired, hooks, watchdog: new TurnWatchdog(clock) };
  }

  it('keeps a turn that streams alive past the idle limit, fails it once it goes quiet, and leaves no timer behind', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    const settled = settledWith(new Turn(agent, { sessionId: 's', text: 'x' }, limits(clock), hooks, watchdog).run());
    const onEvent = agent.openTurns[0].request.onEvent!;
    for (let i = 0; i < 5; i++) {
      clock.advance(200);
      onEvent({ kind: 'text', text: 'chunk' });
    }
    // 1000 ms in, well past 300 ms, but never 300 ms without an event.
    assert.deepEqual(expired, []);
    assert.deepEqual(clock.pendingDelays, [100], 'one timer, re-armed from the last event only when it fires');
    clock.advance(299);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['idle']);
    assert.equal((await settled).code, 'TURN_IDLE_TIMEOUT');
    assert.deepEqual(clock.pendingDelays, []);
  });

  it('fails a turn that hears nothing by the first-event deadline, naming the likely causes; a first event lifts it', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    const quietLimits = { ...limits(clock, 500), idleWatchdogMs: 5000, turnDeadlineMs: 60_000 };
    const quiet = new Turn(agent, { sessionId: 'quiet', text: 'x' }, quietLimits, hooks, watchdog).run().catch((error: Error & { code?: string }) => error);
    clock.advance(499);
    assert.deepEqual(expired, []);
    clock.advance(1);
    assert.deepEqual(expired, ['first-event']);
    const error = (await quiet) as Error & { code?: string };
    assert.equal(error.code, 'AGENT_FIRST_EVENT_TIMEOUT');
    assert.match(error.message, /sent nothing within 0.5 s of the prompt.*Likely causes: no network.*sign-in.*rate limit/);
    // A turn that has heard once is under the idle watchdog only.
    const heard = settledWith(new Turn(agent, { sessionId: 'heard', text: 'y' }, quietLimits, hooks, watchdog).run());
    clock.advance(100);
    agent.openTurns.at(-1)!.request.onEvent!({ kind: 'thought', text: 'thinking' });
    clock.advance(4000);
    assert.deepEqual(expired, ['first-event']);
    clock.advance(1000);
    assert.deepEqual(expired, ['first-event', 'idle']);
    assert.equal((await heard).code, 'TURN_IDLE_TIMEOUT');
  });

  it('fails a chatty turn at its deadline', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    const settled = settledWith(new Turn(agent, { sessionId: 's', text: 'x' }, limits(clock), hooks, watchdog).run());
    const onEvent = agent.openTurns[0].request.onEvent!;
    for (let elapsed = 0; elapsed < 1900; elapsed += 100) {
      clock.advance(100);
      onEvent({ kind: 'text', text: 'chunk' });
    }
    assert.deepEqual(expired, []);
    clock.advance(100);
    assert.deepEqual(expired, ['deadline']);
    assert.equal((await settled).code, 'TURN_DEADLINE_EXCEEDED');
  });

  it('serves concurrent turns with one timer, and a finished turn neither expires nor keeps the timer', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    const first = settledWith(new Turn(agent, { sessionId: 'a', text: 'x' }, limits(clock), hooks, watchdog).run());
    clock.advance(100);
    const second = settledWith(new Turn(agent, { sessionId: 'b', text: 'y' }, limits(clock), hooks, watchdog).run());
    assert.deepEqual(clock.pendingDelays, [200], 'one timer, for the earlier turn');
    agent.finishTurn('first done');
    assert.equal((await first).result?.text, 'first done');
    clock.advance(200);
    assert.deepEqual(expired, [], 'the first turn ended before its due time');
    assert.deepEqual(clock.pendingDelays, [100], 're-armed for the second turn');
    clock.advance(100);
    assert.deepEqual(expired, ['idle']);
    assert.equal((await second).code, 'TURN_IDLE_TIMEOUT');
    assert.deepEqual(clock.pendingDelays, []);
  });

  it('reports the first event time on a successful turn, and schedules nothing once the last turn is done', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    const settled = settledWith(new Turn(agent, { sessionId: 's', text: 'x' }, limits(clock), hooks, watchdog).run());
    clock.advance(40);
    agent.finishTurn('hello');
    const { result } = await settled;
    assert.deepEqual([result?.stopReason, result?.text, result?.firstEventMs], ['end_turn', 'hello', 40]);
    assert.deepEqual(clock.pendingDelays, [260], 'the timer stays armed for the next turn');
    clock.advance(260);
    assert.deepEqual(expired, [], 'a finished turn never expires');
    assert.deepEqual(clock.pendingDelays, [], 'with no turn left it is not re-armed');
  });

  it('arms the timer once for back-to-back turns, not once per turn', async () => {
    const { clock, agent, expired, hooks, watchdog } = await setup();
    let timersArmed = 0;
    const setTimeout = clock.setTimeout.bind(clock);
    clock.setTimeout = (callback, ms) => (timersArmed++, setTimeout(callback, ms));
    for (let i = 0; i < 5; i++) {
      const settled = settledWith(new Turn(agent, { sessionId: 's', text: `turn ${i}` }, limits(clock), hooks, watchdog).run());
      clock.advance(10);
      agent.finishTurn(`done ${i}`);
      assert.equal((await settled).result?.text, `done ${i}`);
    }
    assert.equal(timersArmed, 1);
    const hung = settledWith(new Turn(agent, { sessionId: 's', text: 'hang' }, limits(clock), hooks, watchdog).run());
    clock.advance(300);
    assert.deepEqual(expired, ['idle'], 'the turn after them is still watched, from its own start');
    assert.equal((await hung).code, 'TURN_IDLE_TIMEOUT');
  });

  describe('time the owner spent frozen (SIGSTOP, sleep) does not count against the agent', () => {
    const longLimits = (clock: ManualClock) => ({ idleWatchdogMs: 60_000, turnDeadlineMs: 600_000, firstEventTimeoutMs: 10_000, cancelGraceMs: 100, clock });

    it('the first-event deadline counts only unfrozen time: a freeze three times as long fails nothing', async () => {
      const { clock, agent, expired, hooks, watchdog } = await setup();
      const quiet = new Turn(agent, { sessionId: 'quiet', text: 'x' }, longLimits(clock), hooks, watchdog).run().catch((error: Error & { code?: string }) => error);
      clock.advance(4_000);
      // A plain 10 s timer fires at the resume; this one finds 4 s of the agent's time used.
      clock.freeze(30_000);
      assert.deepEqual(expired, []);
      clock.advance(5_999);
      assert.deepEqual(expired, []);
      clock.advance(1);
      assert.deepEqual(expired, ['first-event'], 'failed at 10 s of unfrozen time, no later');
      assert.match(((await quiet) as Error).message, /sent nothing within 10 s of the prompt/);
    });

    it('a deadline that falls due at the resume waits RESUME_GRACE_MS: output read in the grace saves the turn', async () => {
      const { clock, agent, expired, hooks, watchdog } = await setup();
      const saved = settledWith(new Turn(agent, { sessionId: 'saved', text: 'x' }, longLimits(clock), hooks, watchdog).run());
      const judged = new Turn(agent, { sessionId: 'judged', text: 'y' }, longLimits(clock), hooks, watchdog).run().catch((error: Error & { code?: string }) => error);
      clock.advance(9_900);
      clock.freeze(20_000);
      clock.advance(200);
      assert.deepEqual(expired, [], 'both turns are past 10 s of unfrozen time, but the owner has only just resumed');
      // What the agent wrote during the freeze is read now.
      agent.openTurns[0].request.onEvent!({ kind: 'text', text: 'written while the owner was stopped' });
      clock.advance(RESUME_GRACE_MS - 201);
      assert.deepEqual(expired, []);
      clock.advance(1);
      assert.deepEqual(expired, ['first-event'], 'the silent turn is judged once the grace is over');
      assert.equal(((await judged) as Error & { code?: string }).code, 'AGENT_FIRST_EVENT_TIMEOUT');
      agent.finishTurn('done');
      assert.equal((await saved).result?.text, 'done');
    });

    it('the idle watchdog too: a freeze mid-turn longer than the watchdog, then the agent goes on', async () => {
      const { clock, agent, expired, hooks, watchdog } = await setup();
      const settled = settledWith(new Turn(agent, { sessionId: 's', text: 'x' }, longLimits(clock), hooks, watchdog).run());
      const onEvent = agent.openTurns[0].request.onEvent!;
      clock.advance(1_000);
      onEvent({ kind: 'text', text: 'first' });
      clock.advance(50_000);
      clock.freeze(120_000);
      clock.advance(9_000);
      assert.deepEqual(expired, [], '59 s of unfrozen silence, under the 60 s watchdog');
      onEvent({ kind: 'text', text: ' and more' });
      agent.finishTurn('first and more');
      assert.equal((await settled).result?.text, 'first and more');
      assert.deepEqual(expired, []);
    });
  });
});
