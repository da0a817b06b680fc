import assert from 'node:assert/strict';
import * as path from 'node:path';
import type { AgentProfile } from '../../../src/core/agents/adapter';
import { createAgentConnection } from '../../../src/core/agents/factory';
import { builtinProfiles } from '../../../src/core/agents/profiles';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { waitForEvent } from '../../../src/core/common/event';
import { PoolError } from '../../../src/core/pool/errors';
import type { PoolEvent } from '../../../src/core/pool/events';
import { AgentPool } from '../../../src/core/pool/pool';
import { POOL_DEFAULTS, type PoolOptions } from '../../../src/core/pool/options';
import type { ManualClock } from './manualClock';

export const DIST = path.resolve(__dirname, '../../../dist');

/** The shipped demo agent (dist/demo-agent.js, `npm run build`), optionally with DEMO_AGENT_* defaults. */
export function demoProfile(env: Record<string, string> = {}, name = 'demo'): AgentProfile {
  const base = builtinProfiles(DIST).demo;
  return { ...base, name, env: { ...base.env, ...env } };
}

export type TestPoolOptions = Partial<PoolOptions> & { env?: Record<string, string> };

/** A pool of real demo-agent processes with test-sized limits; closed by `closeAll()` after each test. */
export function demoPool(options: TestPoolOptions = {}): AgentPool {
  const { env, ...rest } = options;
  const pool = new AgentPool({
    profile: demoProfile(env),
    createConnection: (profile, connectionOptions) => createAgentConnection(profile, connectionOptions),
    budget: new InProcessBudget(8),
    cwd: process.cwd(),
    minAgents: 1,
    maxAgents: 2,
    killGraceMs: 500,
    cancelGraceMs: 500,
    shutdownGraceMs: 200,
    // No CPU sampling on a timer unless a test asks: tests with an injected clock count its timers.
    recycleMaxIdleCpuPercent: 0,
    ...rest,
  });
  openPools.add(pool);
  return pool;
}

const openPools = new Set<AgentPool>();

export async function closeAll(): Promise<void> {
  await Promise.all([...openPools].map((pool) => pool.close()));
  openPools.clear();
}

/** Records every event of a pool, for assertions on what happened and in which order. */
export function recordEvents(pool: AgentPool): PoolEvent[] {
  const events: PoolEvent[] = [];
  pool.onDidEvent((event) => events.push(event));
  return events;
}

export function nextEvent<T extends PoolEvent['type']>(
  pool: AgentPool,
  type: T,
  predicate: (event: Extract<PoolEvent, { type: T }>) => boolean = () => true,
  timeoutMs = 10_000,
): Promise<Extract<PoolEvent, { type: T }>> {
  return waitForEvent(pool.onDidEvent, (event) => event.type === type && predicate(event as Extract<PoolEvent, { type: T }>), timeoutMs) as Promise<
    Extract<PoolEvent, { type: T }>
  >;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** An assert.rejects validator: a PoolError with this code (and message pattern). */
export function rejectsWith(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof PoolError, `expected a PoolError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (pattern) assert.match(error.message, pattern);
    return true;
  };
}

/**
 * The pending timers other than the turn watchdog's. That one stays armed after a turn (for the
 * next), so tests about backoff and cooldown timers look past it.
 */
export function timersBesidesWatchdog(clock: ManualClock, idleWatchdogMs: number = POOL_DEFAULTS.idleWatchdogMs): number[] {
  // The watchdog's one timer is armed for the first-event deadline until a turn hears from its agent.
  return clock.pendingDelays.filter((delay) => delay !== idleWatchdogMs && delay !== POOL_DEFAULTS.firstEventTimeoutMs);
}
