import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as path from 'node:path';
import { AgentSampler } from '../fixtures/agentSampler';
import { Participant } from '../fixtures/participantProcess';
import { phaseDirectory, type ChaosContext } from './common';

const DIST = path.join(__dirname, '..', '..', 'dist');

/**
 * Participants with different caps on one store (issue 16): a window at cap 2 running 2 agents, the
 * built CLI at its default 8, a window at 6 that wants 6. A sampler counts live agent processes
 * every 20 ms: never more than 2 while the cap-2 window lives; once it leaves, up to 6.
 */
export async function capMix(context: ChaosContext) {
  const { dir } = phaseDirectory(context, 'cap-mix');
  const tagValue = randomBytes(6).toString('hex');
  const env = { ...process.env, AP_CHAOS_CAP_TAG: tagValue, AGENT_POOL_VSCODE_SETTINGS: 'none' };
  const sampler = new AgentSampler(`AP_CHAOS_CAP_TAG=${tagValue}`, path.join(DIST, 'demo-agent.js')).start();
  const started: Participant[] = [];
  const rounds = context.scale === 'full' ? 3 : 1;
  const figures = { rounds, maxWhileCap2: 0, maxAfterCap2Left: 0, cliExitCodes: [] as (number | null)[], samples: 0 };
  context.note(`cap-mix: ${rounds} round(s) of a cap-2 window, the CLI at 8, a cap-6 window`);
  try {
    for (let round = 0; round < rounds; round++) {
      sampler.max = 0;
      const small = await Participant.start({ directory: dir, cap: 2, perWindow: 2, minAgents: 2, dist: DIST, env });
      started.push(small);
      await small.waitFor('2 ready', (line) => line.idle === 2, 30_000);
      const cli = new Participant(
        spawn(process.execPath, [path.join(DIST, 'cli.js'), 'run', '--profile', 'demo', '--dir', dir, '--wait', '120s', 'chaos'], { env, stdio: ['ignore', 'pipe', 'pipe'] }),
      );
      started.push(cli);
      const large = await Participant.start({ directory: dir, cap: 6, perWindow: 6, minAgents: 6, dist: DIST, env });
      started.push(large);
      await large.waitFor('cap 2 seen', (line) => line.budget?.cap === 2, 30_000);
      sampler.sample();
      figures.maxWhileCap2 = Math.max(figures.maxWhileCap2, sampler.max);
      if (sampler.max > 2) context.violation(`cap-mix: ${sampler.max} agent processes at once under a cap of 2`);
      sampler.max = 0;
      const mark = large.lines.length;
      small.child.kill('SIGTERM');
      await small.exited;
      figures.cliExitCodes.push(await cli.exited);
      await large.waitFor('6 ready', (line) => line.idle === 6 && line.budget?.cap === 6, 60_000, mark);
      sampler.sample();
      figures.maxAfterCap2Left = Math.max(figures.maxAfterCap2Left, sampler.max);
      if (sampler.max > 6) context.violation(`cap-mix: ${sampler.max} agent processes at once under a cap of 6`);
      large.child.kill('SIGTERM');
      await large.exited;
    }
  } finally {
    sampler.stop();
    figures.samples = sampler.samples;
    for (const participant of started) if (participant.child.exitCode === null) participant.child.kill('SIGKILL');
  }
  if (figures.cliExitCodes.some((code) => code !== 0)) context.violation(`cap-mix: the CLI run exited ${figures.cliExitCodes.join(', ')}`);
  if (figures.maxAfterCap2Left !== 6) context.violation(`cap-mix: ${figures.maxAfterCap2Left} agents ran after the cap-2 window left, 6 expected`);
  return figures;
}
