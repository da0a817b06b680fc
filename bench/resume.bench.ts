/**
 * Resume after a crash: a conversation's agent is SIGKILLed; the next prompt of the conversation
 * resumes its session (ACP session/resume) on an idle agent of the same profile. Timed from sending
 * that prompt to its first streamed event, p50 and p95 (goal: under 1.5x the baseline). Baseline in
 * the same run, on the same idle agent: the same prompt in a new conversation, which opens a new
 * session (session/new) there. Resume and baseline alternate which goes first, and each is measured
 * once the killed agent's replacement is up, so no spawn competes for the CPU with either.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../src/core/common/event';
import type { AgentPool } from '../src/core/pool/pool';
import type { BenchEntry } from './bench-entry';
import { benchPool, demoProfile, percentile } from './pool-support';

const WARM_UP = 3;
const ROUNDS = 60;
const PROMPT = '/demo recall';

export async function run(): Promise<BenchEntry[]> {
  const sessions = mkdtempSync(join(tmpdir(), 'bench-resume-'));
  const base = demoProfile();
  const pool = benchPool({
    profile: { ...base, env: { ...base.env, DEMO_AGENT_SESSION_DIR: sessions } },
    minAgents: 2,
    maxAgents: 2,
    autoscale: false,
    strategy: 'least-busy',
    restartBaseDelayMs: 50,
    circuitFailureThreshold: 1000,
  });
  const resumed: number[] = [];
  const opened: number[] = [];
  try {
    await pool.start();
    for (let round = 0; round < WARM_UP + ROUNDS; round++) {
      const key = `conversation ${round}`;
      const first = await pool.run(`round ${round}: alpha`, { sessionKey: key });
      await pool.run(`round ${round}: beta`, { sessionKey: key });
      await killAndReplace(pool, first.agentId);
      const idle = pool.snapshot().agents.find((a) => a.id !== first.agentId && a.state === 'idle')!.id;
      const resume = () => timeToFirstEvent(pool, key, idle, 'resumed', `round ${round}: alpha\nround ${round}: beta`);
      const open = () => timeToFirstEvent(pool, `new ${round}`, idle, 'started', '(nothing earlier in this session)');
      const [resumeMs, openMs] = round % 2 === 0 ? [await resume(), await open()] : [await open(), await resume()].reverse();
      if (round < WARM_UP) continue;
      resumed.push(resumeMs!);
      opened.push(openMs!);
    }
  } finally {
    await pool.close();
    rmSync(sessions, { recursive: true, force: true });
  }
  const entry = (p: number): BenchEntry => {
    const ours = percentile(resumed, p);
    const baseline = percentile(opened, p);
    return {
      name: `resume after SIGKILL p${p} (prompt -> first event)`,
      ours,
      baseline,
      baselineName: 'same prompt, new session on that idle agent',
      ratio: ours / baseline,
      unit: 'ms',
      goal: 'ratio < 1.5',
      met: ours / baseline < 1.5,
      details: { rounds: ROUNDS, resumeP50: percentile(resumed, 50), resumeP95: percentile(resumed, 95), newSessionP50: percentile(opened, 50), newSessionP95: percentile(opened, 95) },
    };
  };
  return [entry(50), entry(95)];
}

/** SIGKILLs the agent's process and waits for its replacement to be idle, so both agents are warm again. */
async function killAndReplace(pool: AgentPool, agentId: string): Promise<void> {
  const pid = pool.snapshot().agents.find((a) => a.id === agentId)!.pid!;
  let stopped = false;
  const back = waitForEvent(
    pool.onDidEvent,
    (e) => {
      if (e.type !== 'agent-state' || e.agentId !== agentId) return false;
      if (e.to === 'stopped' || e.to === 'unhealthy') stopped = true;
      return stopped && e.to === 'idle';
    },
    10_000,
  );
  process.kill(pid, 'SIGKILL');
  await back;
}

/** One prompt of conversation `key` on agent `agentId`: ms from the call to the first streamed event. */
async function timeToFirstEvent(pool: AgentPool, key: string, agentId: string, continuity: string, expected: string): Promise<number> {
  let firstAt: number | undefined;
  const started = performance.now();
  const result = await pool.run(PROMPT, {
    sessionKey: key,
    agentId,
    onEvent: () => {
      firstAt ??= performance.now();
    },
  });
  if (result.continuity !== continuity || result.text !== expected) {
    throw new Error(`conversation "${key}": expected ${continuity} with "${expected}", got ${result.continuity} with "${result.text}"`);
  }
  if (firstAt === undefined) throw new Error(`conversation "${key}": no event streamed`);
  return firstAt - started;
}
