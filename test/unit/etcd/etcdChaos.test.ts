import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EtcdPhases } from '../../chaos/etcdPhases';
import type { ChaosContext } from '../../chaos/common';
import { startEtcd, type EtcdCluster } from '../../fixtures/etcdServer';
import { assertBuilt } from '../cli/cliProcess';

/**
 * The etcd backend's guarantees with real processes as "machines" (own UTS namespaces when root,
 * else configured host names), real etcd servers started here, agents through the real spawn path.
 * Lean: `npm run chaos -- --backend etcd` runs the same phases at full scale.
 */
describe('etcd backend under faults (real etcd, real processes)', function () {
  this.timeout(240_000);
  let base: string;
  let violations: string[];
  let context: ChaosContext;

  before(() => assertBuilt());
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'ap-etcd-chaos-'));
    violations = [];
    context = { scale: 'small', base, note: () => undefined, violation: (message) => violations.push(message) };
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  describe('single member', () => {
    let etcd: EtcdCluster;
    let phases: EtcdPhases;
    before(async () => (etcd = await startEtcd()));
    after(async () => {
      phases?.killAll();
      await etcd?.stop();
    });
    beforeEach(() => (phases = new EtcdPhases(context, etcd)));

    it('3 hosts x 5 processes race for cap 4: never more than 4 agent processes', async () => {
      const figures = await phases.race({ hosts: 3, perHost: 5, cap: 4, rounds: 3 });
      assert.deepEqual(violations, []);
      assert.ok(figures.maxConcurrentAgents <= 4 && figures.maxConcurrentAgents >= 3, JSON.stringify(figures));
    });

    it('100 SIGKILLs of holders: no slot left one TTL later, no agent outlives its holder', async () => {
      const figures = await phases.kills({ kills: 100, holders: 12, cap: 6, ttlSeconds: 2, batch: 6 });
      assert.deepEqual(violations, []);
      assert.equal(figures.kills, 100);
      assert.equal(figures.slotsLeakedAfterOneTtl, 0);
    });

    it('a holder frozen for 2 x TTL: its agent is killed before its slot is handed out again', async () => {
      const figures = await phases.freeze({ ttlSeconds: 2 });
      assert.deepEqual(violations, []);
      assert.ok(figures.agentKilledAfterMs! < figures.slotRetakenAfterMs, JSON.stringify(figures));
    });
  });

  describe('3-member cluster over TLS (a CA made with openssl)', () => {
    let etcd: EtcdCluster;
    before(async () => (etcd = await startEtcd({ members: 3, tls: true })));
    after(async () => etcd?.stop());

    it('a member paused with quorum: no double holders; quorum lost: no new agents and running ones fenced; recovery after', async () => {
      const phases = new EtcdPhases(context, etcd);
      try {
        const figures = await phases.memberFaults({ holders: 6, cap: 3, ttlSeconds: 2, pauseMs: 3000 });
        assert.deepEqual(violations, [], JSON.stringify(figures));
        assert.ok(figures.holdsAfterRecovery >= 0 && figures.recoveryMs < 20_000, JSON.stringify(figures));
      } finally {
        phases.killAll();
      }
    });
  });
});
