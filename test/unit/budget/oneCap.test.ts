import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AgentSampler } from '../../fixtures/agentSampler';
import { Participant } from '../../fixtures/participantProcess';
import { assertBuilt, CLI } from '../cli/cliProcess';

const DIST = join(__dirname, '..', '..', '..', 'dist');

describe('one cap per store on one machine (real processes: services, the built CLI, demo agents)', function () {
  this.timeout(120_000);
  let directory: string;
  let tag: string;
  let sampler: AgentSampler;
  const started: ChildProcess[] = [];

  const env = () => ({ ...process.env, AP_ONE_CAP_TAG: tag.split('=')[1], AGENT_POOL_VSCODE_SETTINGS: 'none' });

  async function participant(cap: number, perWindow: number, minAgents: number): Promise<Participant> {
    const running = await Participant.start({ directory, cap, perWindow, minAgents, dist: DIST, env: env() });
    started.push(running.child);
    return running;
  }

  before(() => assertBuilt());
  beforeEach(() => {
    directory = mkdtempSync(join(tmpdir(), 'ap-one-cap-'));
    tag = `AP_ONE_CAP_TAG=${randomBytes(6).toString('hex')}`;
    sampler = new AgentSampler(tag, join(DIST, 'demo-agent.js')).start();
  });
  afterEach(async () => {
    sampler.stop();
    for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  });

  it('a window at cap 2, then the CLI at its default 8, then a window at 6: never more than 2 agents; once the cap-2 window leaves, up to 6', async () => {
    const small = await participant(2, 2, 2);
    await small.waitFor('2 agents of its own, ready', (line) => line.idle === 2);
    // The CLI declares 8 (no VS Code settings file is read here) and must wait: 2 of 2 are held.
    const cli = new Participant(
      spawn(process.execPath, [CLI, 'run', '--profile', 'demo', '--dir', directory, '--wait', '60s', '--verbose', 'hello from the cli'], { env: env(), stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    started.push(cli.child);
    await new Promise<void>((resolve) => {
      const check = () => /agent cap 2 \(the smallest any open window or run declares; this run's is 8\)/.test(cli.stderr) && resolve();
      cli.child.stderr!.on('data', check);
    });
    const large = await participant(6, 6, 6);
    const seen = await large.waitFor('the cap of 2 enforced', (line) => line.budget?.cap === 2);
    assert.equal(seen.budget!.configuredCap, 6);
    // Everyone has tried: the cap-6 window's pool and the CLI are refused while 2 run.
    assert.equal(sampler.sample(), 2);
    assert.ok(sampler.max <= 2, `${sampler.max} agent processes ran at once under a cap of 2`);
    assert.equal(large.latestBudget()!.usedHere, 0);

    const mark = large.lines.length;
    small.child.kill('SIGTERM');
    assert.equal(await small.exited, 0);
    assert.equal(await cli.exited, 0, cli.stderr);
    assert.match(cli.stderr, /end_turn · agent demo-1/, "the CLI answered once the cap-2 window left");
    await large.waitFor('6 agents of its own, ready', (line) => line.idle === 6 && line.budget?.cap === 6, 30_000, mark);
    assert.equal(sampler.sample(), 6);
    assert.ok(sampler.max <= 6, `${sampler.max} agent processes ran at once under a cap of 6`);
  });

  it('a window with a smaller cap joining stops idle agents above it, and no new one starts until under the cap', async () => {
    const large = await participant(6, 6, 4);
    await large.waitFor('4 agents of its own, ready', (line) => line.idle === 4);
    assert.equal(sampler.sample(), 4);
    const small = await participant(2, 2, 0);
    await large.waitFor('shed to the cap of 2', (line) => line.budget?.cap === 2 && line.budget.used <= 2 && line.budget.usedHere <= 2, 30_000);
    sampler.resetMax();
    // The pool still wants 4 warm agents: it must not start any while the cap is 2.
    await small.waitFor('the cap of 2 seen by the newcomer', (line) => line.budget?.cap === 2);
    assert.ok(sampler.sample() <= 2);
    assert.ok(sampler.max <= 2, `${sampler.max} agent processes ran at once after shedding to a cap of 2`);
    const mark = large.lines.length;
    small.child.kill('SIGTERM');
    assert.equal(await small.exited, 0);
    await large.waitFor('back to 4 once the cap is 6 again', (line) => line.idle === 4 && line.budget?.cap === 6, 30_000, mark);
    assert.equal(sampler.sample(), 4);
    assert.ok(sampler.max <= 6);
  });
});
