/**
 * The etcd backend against the file backend, in the same run (issue 16): acquiring a slot (p50/p95),
 * freeing the slot of a SIGKILLed `agent-pool run` (file: the sweeper proves the owner dead; etcd: its
 * lease runs out, TTL 2 s), and a window joining as seen by another "machine" (file: fs.watch; etcd:
 * the watch on the windows prefix). The etcd server is a real one started here (127.0.0.1).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEtcdBackend } from '../src/core/backend/etcd/index';
import { EtcdGateway } from '../src/core/backend/etcd/gateway';
import { etcdKeys, prefixRange } from '../src/core/backend/etcd/keys';
import { SlotFileBudget } from '../src/core/budget/slotFileBudget';
import { silentLogger } from '../src/core/common/logger';
import { waitForEvent } from '../src/core/common/event';
import { FileInstanceRegistry } from '../src/core/registry/fileInstanceRegistry';
import type { InstanceRegistry, RegistryChange } from '../src/core/registry/types';
import { startEtcd } from '../test/fixtures/etcdServer';
import type { BenchEntry } from './bench-entry';

const CLI = join(__dirname, '..', '..', 'dist', 'cli.js');

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const round = (value: number) => Math.round(value * 100) / 100;

function entry(name: string, ours: number[], baseline: number[], extra: Record<string, number | string> = {}): BenchEntry {
  const p50 = percentile(ours, 0.5);
  const base = percentile(baseline, 0.5);
  return {
    name,
    ours: round(p50),
    baseline: round(base),
    baselineName: 'file backend, same run',
    ratio: round(p50 / base),
    unit: 'ms',
    details: { oursP95: round(percentile(ours, 0.95)), fileP95: round(percentile(baseline, 0.95)), samples: ours.length, ...extra },
  };
}

async function until(check: () => Promise<boolean> | boolean, limitMs: number): Promise<void> {
  const deadline = performance.now() + limitMs;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error('bench: condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Time from SIGKILL of a CLI run holding a slot until its slot is free again. */
async function reclaimAfterKill(env: NodeJS.ProcessEnv, dir: string, slots: () => Promise<number>): Promise<number> {
  const child = spawn(process.execPath, [CLI, 'run', '--profile', 'demo', '--dir', dir, '/demo latency=60000\nhold'], { env: { ...process.env, ...env }, stdio: 'ignore' });
  await until(async () => (await slots()) === 1, 30_000);
  const killedAt = performance.now();
  child.kill('SIGKILL');
  await until(async () => (await slots()) === 0, 30_000);
  return performance.now() - killedAt;
}

export async function run(): Promise<BenchEntry[]> {
  const etcd = await startEtcd();
  const dir = mkdtempSync(join(tmpdir(), 'ap-bench-etcd-'));
  const prefix = `bench-${process.pid}`;
  const gateway = new EtcdGateway({ endpoints: etcd.endpoints });
  try {
    const backendA = await openEtcdBackend({ directory: dir, endpoints: etcd.endpoints, keyPrefix: prefix, leaseTtlSeconds: 2, hostname: 'bench-a', log: silentLogger });
    const backendB = await openEtcdBackend({ directory: dir, endpoints: etcd.endpoints, keyPrefix: prefix, leaseTtlSeconds: 2, hostname: 'bench-b', log: silentLogger });
    // Acquire: one slot of 8, then release (not timed).
    const etcdBudget = await backendA.openBudget({ maxAgentsTotal: 8, windowId: 'bench', log: silentLogger });
    const fileBudget = await SlotFileBudget.open({ directory: join(dir, 'file'), maxAgentsTotal: 8, windowId: 'bench', log: silentLogger });
    const etcdTimes: number[] = [];
    const fileTimes: number[] = [];
    for (let i = 0; i < 100; i++) {
      for (const [budget, times] of [[etcdBudget, etcdTimes], [fileBudget, fileTimes]] as const) {
        const started = performance.now();
        const slot = await budget.tryAcquire({ label: 'bench' });
        times.push(performance.now() - started);
        await slot?.release();
      }
    }
    etcdBudget.dispose();
    fileBudget.dispose();

    // Join propagation to another "machine" (etcd) / another window (files).
    const joinTimes = async (make: () => Promise<InstanceRegistry>, observer: InstanceRegistry): Promise<number[]> => {
      const times: number[] = [];
      for (let i = 0; i < 20; i++) {
        const registry = await make();
        const started = performance.now();
        const joined = waitForEvent(observer.onDidChange, (change: RegistryChange) => change.kind === 'joined' && change.instance.record.workspaceName === `join-${i}`, 10_000);
        await registry.register({ workspaceName: `join-${i}`, workspaceFolders: [], extensionVersion: 'bench' });
        await joined;
        times.push(performance.now() - started);
        registry.dispose();
      }
      return times;
    };
    const etcdObserver = backendB.createRegistry({ log: silentLogger });
    await etcdObserver.refresh();
    const joiners: Array<{ dispose(): void }> = [];
    // Each sample is a new participant on its own lease (its lease granted before the clock starts).
    const etcdJoins = await joinTimes(async () => {
      const backend = await openEtcdBackend({ directory: dir, endpoints: etcd.endpoints, keyPrefix: prefix, leaseTtlSeconds: 2, hostname: 'bench-joiner', log: silentLogger });
      joiners.push(backend);
      return backend.createRegistry({ log: silentLogger });
    }, etcdObserver);
    for (const joiner of joiners) joiner.dispose();
    const fileDir = join(dir, 'joins');
    const fileObserver = new FileInstanceRegistry({ directory: fileDir, log: silentLogger, oneWindowPerProcess: false });
    await fileObserver.start();
    const fileJoins = await joinTimes(async () => new FileInstanceRegistry({ directory: fileDir, log: silentLogger, oneWindowPerProcess: false }), fileObserver);
    fileObserver.dispose();
    etcdObserver.dispose();

    // Reclaim after SIGKILL of a real `agent-pool run` holding a slot.
    const settings = join(dir, 'settings.json');
    writeFileSync(settings, JSON.stringify({ 'agentPool.backend': 'etcd', 'agentPool.etcd.endpoints': etcd.endpoints.join(','), 'agentPool.etcd.keyPrefix': `${prefix}-kill`, 'agentPool.etcd.leaseTtlSeconds': 2 }));
    const etcdSlots = async () => Number((await gateway.call<{ count?: string }>('/v3/kv/range', { ...prefixRange(etcdKeys(`${prefix}-kill`).slots), count_only: true })).count ?? 0);
    const killDir = join(dir, 'kill');
    const sweeper = await SlotFileBudget.open({ directory: killDir, maxAgentsTotal: 8, windowId: 'sweeper', log: silentLogger, sweepIntervalMs: 250 });
    const fileSlots = async () => {
      try {
        return readdirSync(join(killDir, 'slots')).filter((name) => /^slot-\d+$/.test(name)).length;
      } catch {
        return 0;
      }
    };
    const etcdReclaim: number[] = [];
    const fileReclaim: number[] = [];
    for (let i = 0; i < 5; i++) {
      etcdReclaim.push(await reclaimAfterKill({ AGENT_POOL_VSCODE_SETTINGS: settings }, killDir, etcdSlots));
      fileReclaim.push(await reclaimAfterKill({ AGENT_POOL_VSCODE_SETTINGS: 'none' }, killDir, fileSlots));
    }
    sweeper.dispose();
    backendA.dispose();
    backendB.dispose();
    return [
      entry('etcd backend: acquire p50 (one slot of 8)', etcdTimes, fileTimes),
      entry('etcd backend: slot freed after SIGKILL of its holder (lease TTL 2 s)', etcdReclaim, fileReclaim, { ttlMs: 2000 }),
      entry('etcd backend: window joined, seen on another machine', etcdJoins, fileJoins),
    ];
  } finally {
    gateway.dispose();
    await etcd.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
