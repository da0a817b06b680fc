import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CoordinationBackend } from '../../../src/core/backend/backend';
import { openEtcdBackend } from '../../../src/core/backend/etcd/index';
import { EtcdGateway, b64 } from '../../../src/core/backend/etcd/gateway';
import type { AgentBudget, BudgetSlot } from '../../../src/core/budget/budget';
import { silentLogger } from '../../../src/core/common/logger';
import { waitForEvent } from '../../../src/core/common/event';
import type { RegistryChange } from '../../../src/core/registry/types';
import { startEtcd, type EtcdCluster } from '../../fixtures/etcdServer';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { assertBuilt, CLI } from '../cli/cliProcess';

/** The etcd backend against a real single-member etcd the test starts itself (127.0.0.1, temporary data). */
describe('etcd backend (real etcd 3.4, single member)', function () {
  this.timeout(60_000);
  let etcd: EtcdCluster;
  let dir: string;
  const opened: CoordinationBackend[] = [];
  const budgets: AgentBudget[] = [];

  before(async () => (etcd = await startEtcd()));
  after(async () => etcd?.stop());
  beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'ap-etcd-'))));
  afterEach(() => {
    for (const budget of budgets.splice(0)) budget.dispose();
    for (const backend of opened.splice(0)) backend.dispose();
    rmSync(dir, { recursive: true, force: true });
  });

  async function machine(hostname: string, prefix: string, ttl = 2): Promise<CoordinationBackend> {
    const backend = await openEtcdBackend({ directory: dir, endpoints: etcd.endpoints, keyPrefix: prefix, leaseTtlSeconds: ttl, hostname, log: silentLogger });
    opened.push(backend);
    return backend;
  }

  async function budgetOf(backend: CoordinationBackend, cap: number, windowId: string): Promise<AgentBudget> {
    const budget = await backend.openBudget({ maxAgentsTotal: cap, windowId, log: silentLogger });
    budgets.push(budget);
    return budget;
  }

  it('grants at most the cap across machines, each slot bound to its holder\'s lease, freed only by its holder', async () => {
    const prefix = `t1-${Date.now()}`;
    const a = await budgetOf(await machine('host-a', prefix), 3, 'a');
    const b = await budgetOf(await machine('host-b', prefix), 3, 'b');
    const slots = await Promise.all(Array.from({ length: 6 }, (_, i) => (i % 2 ? a : b).tryAcquire({ label: 'demo' })));
    const granted = slots.filter((slot): slot is BudgetSlot => slot !== undefined);
    assert.equal(granted.length, 3, 'exactly the cap is granted to six racing requests on two machines');
    const gateway = new EtcdGateway({ endpoints: etcd.endpoints });
    const listed = await gateway.call<{ kvs?: Array<{ lease?: string }> }>('/v3/kv/range', { key: b64(`${prefix}/budget/slots/`), range_end: b64(`${prefix}/budget/slots0`) });
    assert.equal(listed.kvs?.length, 3);
    assert.ok(listed.kvs!.every((kv) => kv.lease && kv.lease !== '0'), 'every slot is bound to a lease');
    // Only its holder's revision deletes a slot: a stale holder's release after someone else took it deletes nothing.
    await granted[0]!.release();
    const next = (await a.tryAcquire({ label: 'demo' })) ?? (await b.tryAcquire({ label: 'demo' }));
    assert.ok(next);
    await granted[0]!.release();
    const after = await gateway.call<{ count?: string }>('/v3/kv/range', { key: b64(`${prefix}/budget/slots/`), range_end: b64(`${prefix}/budget/slots0`), count_only: true });
    assert.equal(Number(after.count), 3, 'a second release by the old holder removed nobody else\'s slot');
    gateway.dispose();
  });

  it('enforces the smallest cap a live participant declares, and the next smallest when it leaves; joined and left reach the other machine with its host name', async () => {
    const prefix = `t2-${Date.now()}`;
    const laptop = await machine('laptop', prefix);
    const registryHere = laptop.createRegistry({ log: silentLogger });
    await registryHere.register({ workspaceName: 'w8', workspaceFolders: [], extensionVersion: 't', maxAgentsTotal: 8 });
    const budget = await budgetOf(laptop, 8, registryHere.selfId!);
    const devbox = await machine('devbox', prefix);
    const registryThere = devbox.createRegistry({ log: silentLogger });
    const joined = waitForEvent(registryHere.onDidChange, (change: RegistryChange) => change.kind === 'joined' && change.instance.record.hostname === 'devbox');
    await registryThere.register({ workspaceName: 'w2', workspaceFolders: [], extensionVersion: 't', maxAgentsTotal: 2 });
    await joined;
    const held = [await budget.tryAcquire({ label: 'x' }), await budget.tryAcquire({ label: 'x' }), await budget.tryAcquire({ label: 'x' })];
    assert.equal(held.filter(Boolean).length, 2, 'the devbox window declared 2: the laptop gets no third slot');
    assert.equal(budget.snapshot().cap, 2);
    const left = waitForEvent(registryHere.onDidChange, (change: RegistryChange) => change.kind === 'left');
    registryThere.dispose();
    await left;
    assert.ok(await budget.tryAcquire({ label: 'x' }), 'with the cap-2 window gone, the laptop\'s own 8 holds');
  });

  it('agent-pool run takes its slot on etcd when settings.json says backend "etcd", and shows on the other machine with its host name', async () => {
    assertBuilt();
    const prefix = `t4-${Date.now()}`;
    const settings = join(dir, 'settings.json');
    writeFileSync(settings, JSON.stringify({ 'agentPool.backend': 'etcd', 'agentPool.etcd.endpoints': etcd.endpoints.join(','), 'agentPool.etcd.keyPrefix': prefix, 'agentPool.etcd.leaseTtlSeconds': 3 }));
    const observer = (await machine('observer', prefix)).createRegistry({ log: silentLogger });
    await observer.refresh();
    const seen = waitForEvent(observer.onDidChange, (change: RegistryChange) => change.kind === 'joined' && change.instance.record.hostname === 'cli-box', 20_000);
    const result = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'run', '--profile', 'demo', '--dir', dir, '/demo latency=500\nvia etcd'], { env: { ...process.env, AGENT_POOL_VSCODE_SETTINGS: settings, AGENT_POOL_HOST_NAME: 'cli-box' } }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stderr }),
      ),
    );
    assert.equal(result.code, 0, result.stderr);
    await seen;
    const badSettings = join(dir, 'bad.json');
    writeFileSync(badSettings, JSON.stringify({ 'agentPool.backend': 'etcd', 'agentPool.etcd.endpoints': '10.0.0.5' }));
    const bad = await new Promise<{ code: number; stderr: string }>((resolve) =>
      execFile(process.execPath, [CLI, 'run', '--profile', 'demo', '--dir', dir, 'x'], { env: { ...process.env, AGENT_POOL_VSCODE_SETTINGS: badSettings } }, (error, _stdout, stderr) =>
        resolve({ code: error ? Number(error.code) : 0, stderr }),
      ),
    );
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /agentPool\.etcd\.endpoints: "10\.0\.0\.5" is not an http:\/\/ or https:\/\/ address/);
  });

  it('fences: with etcd frozen, the holder revokes its slots before the server can free them, grants nothing, and recovers after', async () => {
    const prefix = `t3-${Date.now()}`;
    const backend = await machine('solo', prefix, 2);
    const budget = await budgetOf(backend, 2, 'solo');
    const slot = await budget.tryAcquire({ label: 'demo' });
    assert.ok(slot?.onRevoked);
    const pausedAt = performance.now();
    const revoked = new Promise<number>((resolve) => slot.onRevoked!(() => resolve(performance.now() - pausedAt)));
    etcd.members[0]!.pause();
    let revokedAfterMs: number;
    try {
      revokedAfterMs = await revoked;
      assert.match(budget.snapshot().unavailableReason ?? '', /etcd/);
      await assert.rejects(budget.tryAcquire({ label: 'demo' }), /etcd/);
    } finally {
      etcd.members[0]!.resume();
    }
    // The server counts the TTL from the last keepalive it answered, which was sent before the pause.
    assert.ok(revokedAfterMs < 2000, `revoked ${Math.round(revokedAfterMs)} ms after etcd froze: must be before the 2 s lease can run out`);
    await waitForEvent(budget.onDidChange, (snapshot) => snapshot.unavailableReason === undefined, 15_000);
    assert.ok(await budget.tryAcquire({ label: 'demo' }), 'a fresh lease after etcd answers again');
  });
});
