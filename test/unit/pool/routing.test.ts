import assert from 'node:assert/strict';
import { ModuleAffinity, PairScores, pairKey } from '../../../src/core/pool/routers/affinity';
import {
  leastBusy,
  leastRecentlyUsed,
  moduleAffinity,
  powerOfTwoChoices,
  random,
  roundRobin,
  ROUTING_STRATEGIES,
  stickySession,
  type RoutableAgent,
  type RoutingState,
} from '../../../src/core/pool/routers/agentRouters';

function agent(ordinal: number, extra: Partial<RoutableAgent> = {}): RoutableAgent {
  return { id: `a${ordinal}`, ordinal, busyMs: 0, turns: 0, lastReleasedAt: 0, ...extra };
}

/** Scores built the way the pool builds them: one increment per successful turn. */
function pairScores(scores: Array<[string, number]>): PairScores {
  const pair = new PairScores();
  for (const [agentId, score] of scores) for (let i = 0; i < score; i++) pair.increment(agentId);
  return pair;
}

function state(extra: Partial<RoutingState> = {}): RoutingState {
  return { lastPickedOrdinal: -1, rng: () => 0, sticky: new Map(), liveAgentIds: new Set(), affinity: new Map(), ...extra };
}

describe('routing strategies', () => {
  it('round-robin walks the agents in creation order and wraps around', () => {
    const candidates = [agent(1), agent(2), agent(3)];
    const picks: number[] = [];
    let last = -1;
    for (let i = 0; i < 5; i++) {
      last = roundRobin({}, candidates, state({ lastPickedOrdinal: last }))!.ordinal;
      picks.push(last);
    }
    assert.deepEqual(picks, [1, 2, 3, 1, 2]);
  });

  it('least-busy picks the agent with the least busy time, then the fewest turns', () => {
    const candidates = [agent(1, { busyMs: 50 }), agent(2, { busyMs: 10, turns: 9 }), agent(3, { busyMs: 10, turns: 2 })];
    assert.equal(leastBusy({}, candidates, state())!.id, 'a3');
  });

  it('least-recently-used picks the agent released longest ago', () => {
    const candidates = [agent(1, { lastReleasedAt: 30 }), agent(2, { lastReleasedAt: 10 }), agent(3, { lastReleasedAt: 20 })];
    assert.equal(leastRecentlyUsed({}, candidates, state())!.id, 'a2');
  });

  it('random draws from the injected rng', () => {
    const candidates = [agent(1), agent(2), agent(3), agent(4)];
    assert.equal(random({}, candidates, state({ rng: () => 0.99 }))!.id, 'a4');
    assert.equal(random({}, candidates, state({ rng: () => 0.3 }))!.id, 'a2');
  });

  it('power-of-two compares two distinct random agents and takes the less busy', () => {
    const candidates = [agent(1, { busyMs: 90 }), agent(2, { busyMs: 5 }), agent(3, { busyMs: 1 })];
    // rng 0 -> first index 0; second draw 0 over the remaining two -> index 1 (skips the first).
    assert.equal(powerOfTwoChoices({}, candidates, state({ rng: () => 0 }))!.id, 'a2');
    const draws = [0.99, 0];
    assert.equal(powerOfTwoChoices({}, candidates, state({ rng: () => draws.shift()! }))!.id, 'a3');
  });

  it('sticky-session keeps a conversation on its agent, waits while it is busy, moves when it is gone', () => {
    const candidates = [agent(1), agent(2, { busyMs: 100 })];
    const sticky = new Map([['chat', { agentId: 'a2' }]]);
    assert.equal(stickySession({ sessionKey: 'chat' }, candidates, state({ sticky, liveAgentIds: new Set(['a1', 'a2']) }))!.id, 'a2');
    const busyBound = new Map([['chat', { agentId: 'a9' }]]);
    assert.equal(stickySession({ sessionKey: 'chat' }, candidates, state({ sticky: busyBound, liveAgentIds: new Set(['a9']) })), undefined);
    assert.equal(stickySession({ sessionKey: 'chat' }, candidates, state({ sticky: busyBound, liveAgentIds: new Set() }))!.id, 'a1');
  });

  it('module affinity prefers the best-scored agent for the pair and, when dedicated, never one serving another pair', () => {
    const candidates = [agent(1), agent(2), agent(3)];
    const key = pairKey('ui', 'api')!;
    const affinity = new Map([[key, pairScores([['a1', 2], ['a3', 5]])]]);
    assert.equal(moduleAffinity({ sourceModule: 'ui', targetModule: 'api' }, candidates, state({ affinity }))!.id, 'a3');
    const dedicated = new Map([['a1', pairKey('db', 'api')!], ['a3', pairKey('db', 'api')!]]);
    assert.equal(moduleAffinity({ sourceModule: 'ui', targetModule: 'api' }, candidates, state({ affinity, dedicated }))!.id, 'a2');
    assert.equal(moduleAffinity({ sourceModule: 'ui', targetModule: 'api' }, [agent(1)], state({ affinity, dedicated })), undefined);
  });

  it('module affinity skips busy leaders, breaks ties by busy time, and stops at the first lower score', () => {
    const key = pairKey('ui', 'api')!;
    const affinity = new Map([[key, pairScores([['a1', 3], ['a2', 3], ['a3', 3], ['a4', 1]])]]);
    const request = { sourceModule: 'ui', targetModule: 'api' };
    const idle = [agent(1, { busyMs: 50 }), agent(2, { busyMs: 20 }), agent(4)];
    assert.equal(moduleAffinity(request, idle, state({ affinity }))!.id, 'a2', 'a3 is busy; a2 is the less busy of the tied leaders');
    assert.equal(moduleAffinity(request, [agent(4, { busyMs: 99 }), agent(5)], state({ affinity }))!.id, 'a4', 'the only scored idle agent beats a fresh one');
  });

  it('ranks pair scores best first as they grow, and forgets an agent everywhere with its process', () => {
    const scores = pairScores([['a1', 1], ['a2', 2], ['a3', 2]]);
    assert.deepEqual(scores.ranked.map((s) => `${s.agentId}:${s.score}`), ['a2:2', 'a3:2', 'a1:1']);
    scores.increment('a1');
    scores.increment('a1');
    assert.deepEqual(scores.ranked.map((s) => `${s.agentId}:${s.score}`), ['a1:3', 'a2:2', 'a3:2']);
    assert.equal(scores.delete('a2'), true);
    scores.increment('a3');
    assert.deepEqual(scores.ranked.map((s) => `${s.agentId}:${s.score}`), ['a1:3', 'a3:3']);
    assert.deepEqual([scores.scoreOf('a2'), scores.delete('a2')], [0, false]);

    const affinity = new ModuleAffinity(true);
    affinity.recordSuccess('a1', 'ui', 'api');
    affinity.recordSuccess('a1', 'db', 'api');
    affinity.recordSuccess('a2', 'db', 'api');
    affinity.recordSuccess('a2', undefined, undefined);
    affinity.dedicate('a1', 'ui', 'api');
    affinity.forgetAgent('a1');
    assert.deepEqual([...affinity.pairs.keys()], [pairKey('db', 'api')], 'a pair nobody scores any more is dropped');
    assert.deepEqual(affinity.pairs.get(pairKey('db', 'api')!)!.ranked.map((s) => s.agentId), ['a2']);
    assert.equal(affinity.dedicated!.size, 0);
  });

  it('no strategy ever returns an agent that is not a candidate', () => {
    let seed = 7;
    const rng = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let round = 0; round < 300; round++) {
      const all = Array.from({ length: 1 + Math.floor(rng() * 8) }, (_, i) => agent(i, { busyMs: Math.floor(rng() * 10), lastReleasedAt: Math.floor(rng() * 10) }));
      const candidates = all.filter(() => rng() < 0.6);
      const candidatesById = rng() < 0.5 ? new Map(candidates.map((c) => [c.id, c])) : undefined;
      const sticky = new Map([['k', { agentId: `a${Math.floor(rng() * 8)}` }]]);
      const affinity = new Map([[pairKey('s', 't')!, pairScores(all.map((a) => [a.id, Math.floor(rng() * 3)]))]]);
      const dedicated = rng() < 0.5 ? new Map(all.filter(() => rng() < 0.3).map((a) => [a.id, pairKey('x', 'y')!] as [string, string])) : undefined;
      const routing = state({ rng, sticky, affinity, dedicated, candidatesById, lastPickedOrdinal: Math.floor(rng() * 8) - 1, liveAgentIds: new Set(all.map((a) => a.id)) });
      for (const [name, strategy] of Object.entries(ROUTING_STRATEGIES)) {
        const pick = strategy({ sessionKey: 'k', sourceModule: 's', targetModule: 't' }, candidates, routing);
        if (pick && name === 'module-affinity' && dedicated?.has(pick.id)) assert.fail('affinity picked an agent dedicated to another pair');
        if (pick) assert.ok(candidates.includes(pick), `${name} picked a non-candidate`);
        else if (name !== 'sticky-session' && name !== 'module-affinity') assert.equal(candidates.length, 0, `${name} picked nothing`);
      }
    }
  });
});
