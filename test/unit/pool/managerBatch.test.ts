import assert from 'node:assert/strict';
import { createAgentConnection } from '../../../src/core/agents/factory';
import { InProcessBudget } from '../../fixtures/inProcessBudget';
import { PoolManager } from '../../../src/core/pool/manager';
import { demoProfile } from './helpers';

function manager(budget = new InProcessBudget(6)): PoolManager {
  return new PoolManager({
    shared: { createConnection: createAgentConnection, budget, cwd: process.cwd(), killGraceMs: 500, shutdownGraceMs: 100, recycleMaxMemoryBytes: 0, recycleMaxAgeMs: 0, recycleMaxIdleCpuPercent: 0 },
    resolveProfile: (name) => demoProfile({}, name),
  });
}

describe('pool manager: batches and health with real demo agents', function () {
  this.timeout(20_000);
  const managers: PoolManager[] = [];
  afterEach(async () => {
    await Promise.all(managers.splice(0).map((m) => m.closeAll()));
  });

  it('runs a batch with bounded concurrency and returns every answer in input order, a failure in its own slot', async () => {
    const pools = manager();
    managers.push(pools);
    await pools.start({ profile: 'alpha', minAgents: 3, maxAgents: 3, autoscale: false });
    let busy = 0;
    let mostBusy = 0;
    pools.onDidEvent((event) => {
      if (event.type !== 'agent-state') return;
      if (event.to === 'busy') mostBusy = Math.max(mostBusy, ++busy);
      else if (event.from === 'busy') busy--;
    });
    // Later prompts answer sooner: an in-order result proves the order is the input's, not the finish.
    const prompts = [0, 1, 2, 3, 4, 5].map((i) => (i === 3 ? '/demo error=internal\nthree' : `/demo latency=${(6 - i) * 30}\nprompt ${i}`));
    const batch = await pools.runBatch(prompts, { concurrency: 2 });
    assert.equal(mostBusy, 2, 'never more than two prompts in flight');
    assert.deepEqual(
      batch.results.map((r) => (r.ok ? r.value.text : `error: ${r.message}`)),
      ['prompt 0', 'prompt 1', 'prompt 2', batch.results[3].ok ? 'unexpected' : `error: ${batch.results[3].message}`, 'prompt 4', 'prompt 5'],
    );
    assert.equal(batch.results[3].ok, false);
    assert.deepEqual([batch.succeeded, batch.failed], [5, 1]);
    assert.deepEqual(batch.results.map((r) => r.index), [0, 1, 2, 3, 4, 5]);
    await assert.rejects(pools.runBatch(['x'], { concurrency: 0 }), /Batch option "concurrency" must be a whole number from 1 to 1024, got 0/);
  });

  it('a cancelled batch starts nothing more and says so in the slots it never ran', async () => {
    const pools = manager();
    managers.push(pools);
    await pools.start({ profile: 'alpha', minAgents: 1, maxAgents: 1, autoscale: false });
    const controller = new AbortController();
    const started: string[] = [];
    pools.onDidEvent((event) => {
      if (event.type === 'agent-state' && event.to === 'busy') {
        started.push(event.agentId);
        controller.abort(new Error('stopped by the caller'));
      }
    });
    const batch = await pools.runBatch(['/demo latency=50\none', 'two', 'three'], { concurrency: 1, signal: controller.signal });
    assert.equal(started.length, 1);
    assert.deepEqual(batch.results.slice(1).map((r) => (r.ok ? 'ran' : r.message)), ['stopped by the caller', 'stopped by the caller']);
  });

  it('reports each pool\'s health: healthy, not healthy while its only agent restarts, the worst pool for the manager', async () => {
    const pools = manager();
    managers.push(pools);
    assert.deepEqual(pools.health(), { status: 'down', pools: [] });
    await pools.start({ profile: 'alpha', minAgents: 1, maxAgents: 2 });
    await pools.start({ profile: 'beta', minAgents: 1, maxAgents: 1 });
    const healthy = pools.health();
    assert.equal(healthy.status, 'healthy');
    assert.deepEqual(
      healthy.pools.map((p) => [p.profile, p.status, p.ready, p.idle, p.problems]),
      [
        ['alpha', 'healthy', 1, 1, []],
        ['beta', 'healthy', 1, 1, []],
      ],
    );
    // A kill leaves beta without its warm agent until the restart is ready.
    const beta = pools.get('beta')!;
    const pid = beta.snapshot().agents[0].pid!;
    const gone = new Promise<void>((resolve) => beta.onDidEvent((e) => e.type === 'agent-state' && e.to === 'stopped' && resolve()));
    process.kill(pid, 'SIGKILL');
    await gone;
    const afterCrash = pools.health().pools.find((p) => p.profile === 'beta')!;
    assert.notEqual(afterCrash.status, 'healthy');
    assert.match(afterCrash.problems.join('; '), /no agent is (ready yet \(1 starting\)|running)/);
    assert.equal(pools.health().status, afterCrash.status, 'the manager reports the worst pool');
    const lease = await pools.acquire({ profiles: ['beta'] });
    const held = pools.health().pools.find((p) => p.profile === 'beta')!;
    assert.deepEqual([held.status, held.busy, held.utilization], ['healthy', 1, 1]);
    lease.release();
  });
});
