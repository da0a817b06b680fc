import assert from 'node:assert/strict';
import { chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter } from '../../../src/core/common/event';
import { currentProcessIdentity } from '../../../src/core/process/identity';
import { MetricsAggregator } from '../../../src/core/metrics/aggregator';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { formatCompact, formatFull } from '../../../src/core/metrics/formats';
import { metricsFilePath, recordFilePath } from '../../../src/core/directory/layout';
import { stateFromSnapshot, type MetricsState } from '../../../src/core/metrics/metricsState';
import type { MetricsSnapshot } from '../../../src/core/metrics/snapshot';
import type { InstanceRecord, InstanceRegistry, InstanceView, RegistryChange } from '../../../src/core/registry/types';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';

describe('MetricsAggregator', () => {
  let dir: string;
  let clock: ManualClock;
  let startTime: string;
  before(async () => {
    startTime = (await currentProcessIdentity()).startTime;
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ap-agg-'));
    mkdirSync(join(dir, 'instances'));
    clock = new ManualClock();
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function record(id: string, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
    return {
      schema: 1, id, pid: process.pid, processStartTime: startTime, hostname: hostname(), workspaceName: id, workspaceFolders: [],
      extensionVersion: '0.1.0', startedAt: clock.wallNow(), lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: clock.wallNow(), ...overrides,
    };
  }

  function snapshotOf(id: string, options: { busy?: number; idle?: number; turns?: number; continues?: MetricsState } = {}): MetricsSnapshot {
    const pool = new FakePool();
    const collector = new MetricsCollector({ instanceId: id, clock, restored: options.continues });
    collector.attach(pool);
    pool.setAgents([
      ...Array.from({ length: options.busy ?? 0 }, (_, i) => ({ id: `${id}-b${i}`, state: 'busy' as const })),
      ...Array.from({ length: options.idle ?? 0 }, (_, i) => ({ id: `${id}-i${i}`, state: 'idle' as const })),
    ]);
    for (let i = 0; i < (options.turns ?? 0); i++) pool.turn('a', 100 + i, i === 0 ? { outcome: 'failed' } : {});
    return collector.snapshot();
  }

  function writeWindow(id: string, snapshot?: MetricsSnapshot | string, recordOverrides: Partial<InstanceRecord> = {}): void {
    writeFileSync(recordFilePath(dir, id), JSON.stringify(record(id, recordOverrides)));
    if (snapshot !== undefined) {
      writeFileSync(metricsFilePath(dir, id), typeof snapshot === 'string' ? snapshot : JSON.stringify(snapshot));
    }
  }

  it('skips empty, truncated, garbage, wrong-schema and vanishing files, counts them, and never throws', async () => {
    writeWindow('good', snapshotOf('good', { busy: 2, turns: 4 }));
    const good = readFileSync(metricsFilePath(dir, 'good'), 'utf8');
    writeWindow('empty', '');
    writeWindow('truncated', good.slice(0, good.length / 2));
    writeWindow('garbage', '{"schema": 1, oops}');
    writeWindow('wrong', JSON.stringify({ ...JSON.parse(good), schema: 99 }));
    writeWindow('vanishing');
    symlinkSync(join(dir, 'gone'), metricsFilePath(dir, 'vanishing'));
    writeFileSync(join(dir, 'instances', 'half.json'), '{"schema":1,"id":"ha');
    writeFileSync(join(dir, 'instances', 'good.metrics.json.123.abcd.tmp'), 'in progress');

    const aggregator = new MetricsAggregator({ directory: dir, clock });
    const view = await aggregator.refresh();
    assert.deepEqual(
      { ...view.skipped },
      { empty: 1, truncated: 2, garbage: 1, wrongSchema: 1, vanished: 1, foreignOwner: 0, unreadable: 0, total: 6 },
    );
    assert.equal(view.totals.windows, 6, 'windows with bad metrics count; a record never read whole does not');
    assert.equal(view.totals.agentsTotal, 2);
    assert.equal(view.totals.prompts.total, 4);
    assert.equal(view.totals.errorRate, 0.25);

    // Bad files are counted once, not at every refresh.
    assert.equal((await aggregator.refresh()).skipped.total, 6);
    aggregator.dispose();
  });

  it('keeps the last good snapshot of a window while its file is bad', async () => {
    writeWindow('w1', snapshotOf('w1', { busy: 1, turns: 3 }));
    const aggregator = new MetricsAggregator({ directory: dir, clock });
    assert.equal((await aggregator.refresh()).totals.prompts.total, 3);
    writeFileSync(metricsFilePath(dir, 'w1'), '{"schema":1,"kind":"agent-pool-met');
    const view = await aggregator.refresh();
    assert.equal(view.totals.prompts.total, 3);
    assert.equal(view.windows[0]!.snapshotStale, true);
    assert.equal(view.skipped.truncated, 1);
    aggregator.dispose();
  });

  it('drops a window whose record disappeared, even if its metrics file is still there', async () => {
    writeWindow('w1', snapshotOf('w1', { idle: 2 }));
    writeWindow('w2', snapshotOf('w2', { idle: 3 }));
    const aggregator = new MetricsAggregator({ directory: dir, clock, selfId: 'w1' });
    assert.equal(formatCompact(await aggregator.refresh()), 'A:2/5(2)');
    rmSync(recordFilePath(dir, 'w2'));
    const view = await aggregator.refresh();
    assert.equal(formatCompact(view), 'A:2/2(1)');
    assert.deepEqual(view.windows.map((w) => w.id), ['w1']);
    aggregator.dispose();
  });

  it('ignores files owned by another user', async function () {
    if (process.getuid?.() !== 0) this.skip(); // only root can give a file away
    writeWindow('mine', snapshotOf('mine', { idle: 1 }));
    writeWindow('theirs', snapshotOf('theirs', { idle: 7 }));
    chownSync(metricsFilePath(dir, 'theirs'), 54321, 54321);
    const view = await new MetricsAggregator({ directory: dir, clock }).refresh();
    assert.equal(view.totals.agentsTotal, 1);
    assert.equal(view.skipped.foreignOwner, 1);
  });

  it('calls a window unresponsive when its heartbeat stops moving, on the reader\'s clock', async () => {
    writeWindow('w1', snapshotOf('w1', { idle: 1 }));
    const aggregator = new MetricsAggregator({ directory: dir, clock, unresponsiveAfterMs: 15_000 });
    assert.equal((await aggregator.refresh()).windows[0]!.health, 'live');
    clock.advance(16_000);
    let view = await aggregator.refresh();
    assert.equal(view.windows[0]!.health, 'unresponsive');
    assert.equal(view.totals.unresponsiveWindows, 1);
    assert.match(formatFull(view), /Unresponsive: 1$/);
    // The wall clock jumping an hour back changes nothing; only the sequence moving does.
    clock.jumpWall(-3_600_000);
    writeWindow('w1', undefined, { heartbeatSeq: 2, heartbeatAt: clock.wallNow() });
    view = await aggregator.refresh();
    assert.equal(view.windows[0]!.health, 'live');
    assert.equal(view.windows[0]!.heartbeatAgeMs, 0);
    aggregator.dispose();
  });

  it('calls a silent window dead when its pid now names another process', async () => {
    writeWindow('reused', snapshotOf('reused', { idle: 1 }), { processStartTime: '1' });
    const aggregator = new MetricsAggregator({ directory: dir, clock });
    assert.equal((await aggregator.refresh()).windows[0]!.health, 'live', 'no suspicion while the heartbeat is fresh');
    clock.advance(16_000);
    assert.equal((await aggregator.refresh()).windows[0]!.health, 'dead');
    aggregator.dispose();
  });

  it('calls a window dead when its process is gone, and leaves it out of the totals', async () => {
    writeWindow('w1', snapshotOf('w1', { idle: 1 }));
    writeWindow('ghost', snapshotOf('ghost', { idle: 4 }), { pid: 2 ** 22 + 12345 });
    const view = await new MetricsAggregator({ directory: dir, clock }).refresh();
    assert.equal(view.windows.find((w) => w.id === 'ghost')!.health, 'dead');
    assert.equal(view.totals.windows, 1);
    assert.equal(view.totals.agentsTotal, 1);
  });

  it('counts the counters of a reloaded window once', async () => {
    const old = snapshotOf('old', { turns: 5 });
    writeWindow('old', old);
    writeWindow('new', snapshotOf('new', { turns: 2, idle: 1, continues: stateFromSnapshot(old) }));
    const view = await new MetricsAggregator({ directory: dir, clock }).refresh();
    assert.equal(view.totals.prompts.total, 7);
    assert.equal(view.totals.completionMs.count, 7);
    assert.equal(view.windows.find((w) => w.id === 'old')!.superseded, true);
  });

  it('resolves with an empty view when the directory does not exist', async () => {
    const view = await new MetricsAggregator({ directory: join(dir, 'nothing-here'), clock }).refresh();
    assert.equal(view.totals.windows, 0);
    assert.equal(formatFull(view), 'Agents: 0 (0) | Busy: 0 | p95: - | Errors: 0%');
  });

  it('takes the windows and their health from a registry when given one', async () => {
    writeWindow('w1', snapshotOf('w1', { idle: 2 }));
    writeWindow('w2', snapshotOf('w2', { busy: 1 }));
    const changes = new Emitter<RegistryChange>();
    let views: InstanceView[] = [
      { record: record('w1'), health: 'live', heartbeatAgeMs: 100, isSelf: true },
      { record: record('w2'), health: 'unresponsive', heartbeatAgeMs: 20_000, isSelf: false },
    ];
    const registry = {
      directory: dir,
      selfId: 'w1',
      instances: () => views,
      onDidChange: changes.event,
    } as unknown as InstanceRegistry;
    const aggregator = new MetricsAggregator({ directory: dir, clock, registry, debounceMs: 10 });
    let view = await aggregator.start();
    assert.equal(formatCompact(view), 'A:2/3(2)');
    assert.equal(view.totals.unresponsiveWindows, 1);

    const changed = new Promise((resolve) => aggregator.onDidChange(resolve));
    views = [views[0]!, { ...views[1]!, health: 'dead' }];
    changes.fire({ kind: 'changed', instance: views[1]! });
    clock.advance(10);
    view = (await changed) as typeof view;
    assert.equal(formatCompact(view), 'A:2/2(1)');
    aggregator.dispose();
  });
});
