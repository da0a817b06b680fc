import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { processLiveness } from '../../src/core/process/identity';
import { waitForEvent } from '../../src/core/common/event';
import { Actor, type ActorLine } from './actorProcess';
import { sleep, slotFileNames } from './common';

/** What hostile.ts lends the freeze cases: its CLI runner (as an ordinary user) and its judge. */
export interface FreezeTools {
  root: string;
  dist: string;
  runCli(args: string[], options?: { onStart?: (child: ChildProcess) => void; killAfterMs?: number }): Promise<FreezeCliRun>;
  judge(run: FreezeCliRun, codes?: number[]): void;
  problem(message: string): void;
  note(message: string): void;
  prepareDirectory(dir: string): void;
  /** Makes files the ordinary user's (a no-op unless we are root). */
  chownTree(target: string): void;
}

export interface FreezeCliRun {
  args: string[];
  code: number | null;
  ms: number;
  stdout: string;
  stderr: string;
  hung: boolean;
}

interface FreezeFigure {
  /** ms after the start at which the owner was stopped (undefined: the moment never came). */
  frozeAfterMs?: number;
  freezeMs: number;
  /** The deadline the freeze outlasted. */
  deadlineMs: number;
  ok: boolean;
  ms: number;
}

/**
 * The owner of an agent frozen (SIGSTOP) longer than the deadline that judges the agent, then
 * resumed (SIGCONT), with a real demo agent that answers a few seconds after the resume: later
 * than the deadline by the wall clock, well within it by the owner's unfrozen time. Each must
 * succeed, because every such deadline counts only unfrozen time (unfrozenClock). With deadlines
 * on plain timers each fails at SIGCONT, every time: the answer is not there yet. (An answer that
 * arrives during the freeze is the unit tests' case: there the grace after a resume decides.)
 *
 * - handshake: `run` stopped 12 s as its agent starts, 10 s handshake deadline, `initialize`
 *   answered 16 s after it was sent;
 * - session: stopped 12 s while session/new is in flight (the same deadline bounds it);
 * - first event: stopped 8 s right after the prompt is sent, 4 s first-event deadline, the first
 *   chunk 10 s after the prompt;
 * - mid-turn: a pool (AgentPoolService in a process of its own) stopped 8 s right after the first
 *   event (a thought), idle watchdog 4 s, the answer 10 s after it; meanwhile another process's
 *   cleanup must leave its slot and its agent alone (under the file backend a frozen owner always
 *   keeps its slot).
 */
export async function freezeCases(tools: FreezeTools): Promise<Record<string, FreezeFigure>> {
  const demoAgent = path.join(tools.dist, 'demo-agent.js');
  const profiles = path.join(tools.root, 'freeze-profiles.json');
  const demo = (env: Record<string, string>) => ({ adapter: 'acp', command: process.execPath, args: [demoAgent], env, handshakeTimeoutMs: 10_000 });
  writeFileSync(
    profiles,
    JSON.stringify({
      // Answer 16 s after they are asked: 4 s after a 12 s freeze that began within 4 s of the ask.
      'slow-start': demo({ DEMO_AGENT_START_DELAY_MS: '16000' }),
      'slow-session': demo({ DEMO_AGENT_SESSION_DELAY_MS: '16000' }),
    }),
  );
  tools.chownTree(profiles);
  const figures: Record<string, FreezeFigure> = {};

  // Each freeze starts a moment after the request is on its way: a log line is written before the request itself.
  figures.handshake = await frozenRun(tools, 'handshake', ['--profile', 'slow-start', '--profiles', profiles, 'hello after a freeze at start'], 12_000, 10_000, (child) => hasChild(child.pid!), 1_000);
  figures.session = await frozenRun(tools, 'session', ['--profile', 'slow-session', '--profiles', profiles, '--verbose', 'hello after a freeze in session/new'], 12_000, 10_000, (_child, stderr) =>
    /agent says:/.test(stderr),
  );
  figures.firstEvent = await frozenRun(tools, 'first event', ['--profile', 'demo', '--first-event-timeout', '4s', '--verbose', '/demo latency=10000\nhello after a freeze before the first event'], 8_000, 4_000, (_child, stderr) =>
    /session\/prompt \S+: sent/.test(stderr),
  );
  figures.midTurn = await frozenMidTurn(tools);
  return figures;
}

/** One `run` stopped for `freezeMs` once `when` holds, then resumed: it must answer (exit 0). */
async function frozenRun(
  tools: FreezeTools,
  name: string,
  args: string[],
  freezeMs: number,
  deadlineMs: number,
  when: (child: ChildProcess, stderr: string) => boolean,
  settleMs = 500,
): Promise<FreezeFigure> {
  const dir = path.join(tools.root, `freeze-${name.replace(/\W+/g, '-')}`);
  tools.prepareDirectory(dir);
  tools.chownTree(dir);
  let frozeAfterMs: number | undefined;
  const run = await tools.runCli(['run', ...args, '--dir', dir], {
    killAfterMs: freezeMs + 15_000,
    onStart: (child) => {
      const started = performance.now();
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
      const poll = setInterval(() => {
        if (performance.now() - started > 10_000 || child.exitCode !== null) return clearInterval(poll);
        if (!when(child, stderr)) return;
        clearInterval(poll);
        setTimeout(() => {
          frozeAfterMs = Math.round(performance.now() - started);
          child.kill('SIGSTOP');
          setTimeout(() => child.kill('SIGCONT'), freezeMs);
        }, settleMs);
      }, 2);
    },
  });
  // The 10 s limit is for the command's own work: the freeze we imposed does not count.
  tools.judge({ ...run, ms: run.ms - (frozeAfterMs === undefined ? 0 : freezeMs) }, [0]);
  if (frozeAfterMs === undefined) tools.problem(`freeze (${name}): the moment to freeze never came: ${run.stderr.slice(0, 300)}`);
  const ok = run.code === 0 && frozeAfterMs !== undefined;
  if (run.code !== 0) tools.problem(`a run frozen ${freezeMs} ms (${name}; deadline ${deadlineMs} ms) failed with exit ${run.code}: ${run.stderr.slice(-400)}`);
  tools.note(`freeze (${name}): stopped ${freezeMs} ms after ${frozeAfterMs} ms, deadline ${deadlineMs} ms: exit ${run.code} in ${Math.round(run.ms)} ms`);
  return { frozeAfterMs, freezeMs, deadlineMs, ok, ms: Math.round(run.ms) };
}

/** A pool stopped mid-turn for twice its idle watchdog while its agent goes on streaming. */
async function frozenMidTurn(tools: FreezeTools): Promise<FreezeFigure> {
  const dir = path.join(tools.root, 'freeze-mid-turn');
  tools.prepareDirectory(dir);
  const idleWatchdogSeconds = 4;
  const freezeMs = 8_000;
  // A thought at once, the answer 10 s later: 2 s after the resume.
  const actor = await Actor.start('turn', [dir, tools.dist, JSON.stringify({ idleWatchdogSeconds, prompt: '/demo thought latency=10000\nstreamed through a freeze' })]);
  const started = performance.now();
  let frozeAfterMs: number | undefined;
  let ok = false;
  try {
    const firstEvent = (line: ActorLine) => ['agent-event', 'failed', 'error', 'crash'].includes(line.event);
    const first = actor.lines.find(firstEvent) ?? (await waitForEvent(actor.onLine, firstEvent, 30_000));
    if (first.event !== 'agent-event') throw new Error(`no first event: ${JSON.stringify(first)}`);
    frozeAfterMs = Math.round(performance.now() - started);
    actor.kill('SIGSTOP');
    const frozenAt = performance.now();
    const slotsBefore = slotFileNames(dir);
    // Another process sweeps while the owner is stopped: the slot is the frozen owner's, and stays.
    const cleanup = await runAsSelf([path.join(tools.dist, 'cli.js'), 'cleanup', '--dir', dir]);
    const slotsAfter = slotFileNames(dir);
    if (slotsBefore.length !== 1 || slotsAfter.join() !== slotsBefore.join()) tools.problem(`freeze (mid-turn): a sweep during the freeze changed the frozen owner's slots: ${slotsBefore.join()} -> ${slotsAfter.join()} (${cleanup.slice(0, 200)})`);
    const agentPid = agentOf(dir);
    if (agentPid !== undefined && (await processLiveness({ pid: agentPid.pid, startTime: agentPid.startTime })) !== 'alive') tools.problem(`freeze (mid-turn): the frozen owner's agent ${agentPid.pid} was killed`);
    await sleep(Math.max(0, freezeMs - (performance.now() - frozenAt)));
    actor.kill('SIGCONT');
    const ended = (line: ActorLine) => ['answered', 'failed', 'error', 'crash'].includes(line.event);
    const end = actor.lines.find(ended) ?? (await waitForEvent(actor.onLine, ended, 20_000));
    ok = end.event === 'answered' && end.text === 'streamed through a freeze';
    if (!ok) tools.problem(`a pool frozen ${freezeMs} ms mid-turn (idle watchdog ${idleWatchdogSeconds} s) failed the turn: ${JSON.stringify(end).slice(0, 400)}`);
  } catch (error) {
    tools.problem(`freeze (mid-turn): ${String(error)}`);
  } finally {
    actor.kill('SIGCONT');
    await actor.waitFor('done', 20_000).catch(() => actor.kill('SIGKILL'));
  }
  const ms = Math.round(performance.now() - started);
  tools.note(`freeze (mid-turn): stopped ${freezeMs} ms after the first event, idle watchdog ${idleWatchdogSeconds} s: ${ok ? 'answered' : 'FAILED'}`);
  return { frozeAfterMs, freezeMs, deadlineMs: idleWatchdogSeconds * 1000, ok, ms };
}

/** The agent child a slot lease of `dir` names, if any. */
function agentOf(dir: string): { pid: number; startTime: string } | undefined {
  for (const slot of slotFileNames(dir)) {
    try {
      const lease = JSON.parse(readFileSync(path.join(dir, 'slots', slot), 'utf8')) as { childPid?: number; childStartTime?: string };
      if (lease.childPid !== undefined && lease.childStartTime !== undefined) return { pid: lease.childPid, startTime: lease.childStartTime };
    } catch {
      // released meanwhile
    }
  }
  return undefined;
}

function runAsSelf(argv: string[]): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.on('close', () => resolve(output));
  });
}

/** True once `pid` has a child process (the agent, or its guardian). */
export function hasChild(pid: number): boolean {
  try {
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, 'latin1');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        if (Number(fields[1]) === pid) return true;
      } catch {
        // gone
      }
    }
  } catch {
    return false;
  }
  return false;
}
