import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForEvent } from '../../../src/core/common/event';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { bucketKeyOf } from '../../../src/core/metrics/histogram';
import { FileMetricsStateStore, loadPreviousMetrics } from '../../../src/core/metrics/persistence';
import { parseMetricsSnapshot, type MetricsSnapshot } from '../../../src/core/metrics/snapshot';
import { SnapshotWriter } from '../../../src/core/metrics/snapshotWriter';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';

function readSnapshot(file: string): MetricsSnapshot {
  const parsed = parseMetricsSnapshot(readFileSync(file, 'utf8'));
  assert.ok('snapshot' in parsed, `bad snapshot file: ${JSON.stringify(parsed)}`);
  return parsed.snapshot;
}

describe('SnapshotWriter', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'ap-writer-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function setUp(options: { file?: string; log?: (message: string) => void } = {}) {
    const clock = new ManualClock();
    const pool = new FakePool();
    const collector = new MetricsCollector({ instanceId: 'w1', clock });
    collector.attach(pool);
    const file = options.file ?? join(dir, 'instances', 'w1.metrics.json');
    const writer = new SnapshotWriter({
      file,
      produce: () => collector.snapshot(),
      onDidChange: collector.onDidChange,
      clock,
      minIntervalMs: 500,
      log: options.log ?? (() => undefined),
    });
    return { clock, pool, collector, writer, file };
  }

  it('writes at once after a quiet period, then at most every 500 ms, and never loses the last change', async () => {
    const { clock, pool, writer, file } = setUp();
    pool.turn('a1', 10);
    const first = waitForEvent(writer.onDidWrite);
    clock.advance(0);
    await first;
    assert.equal(readSnapshot(file).pools[0]!.prompts.total, 1);

    for (let i = 0; i < 1000; i++) pool.turn('a1', 10);
    clock.advance(499);
    assert.equal(writer.stats.writes, 1, 'no write inside the 500 ms window');
    const trailing = waitForEvent(writer.onDidWrite);
    clock.advance(1);
    await trailing;
    assert.equal(writer.stats.writes, 2);
    assert.equal(writer.stats.coalesced, 999);
    assert.equal(readSnapshot(file).pools[0]!.prompts.total, 1001, 'the trailing write has the last change');
    assert.equal(clock.pendingTimers, 0, 'nothing more to write');
    assert.equal(statSync(file).mode & 0o777, 0o600);
  });

  it('writes a change made during a write right after it, throttled', async () => {
    const { clock, pool, writer, file } = setUp();
    pool.turn('a1', 10);
    const first = waitForEvent(writer.onDidWrite);
    clock.advance(0);
    pool.turn('a1', 10); // the write is in flight now
    await first;
    assert.equal(clock.pendingTimers, 1);
    const second = waitForEvent(writer.onDidWrite);
    clock.advance(500);
    await second;
    assert.equal(readSnapshot(file).pools[0]!.prompts.total, 2);
  });

  it('writes on every heartbeat even when nothing changed, with a new seq', async () => {
    const { writer, file } = setUp();
    await writer.heartbeat();
    const seq = readSnapshot(file).seq;
    await writer.heartbeat();
    assert.equal(readSnapshot(file).seq, seq + 1);
  });

  it('logs once when the disk refuses writes, keeps the metrics, and recovers', async () => {
    const blocker = join(dir, 'instances');
    writeFileSync(blocker, 'not a directory');
    const messages: string[] = [];
    const { pool, writer, file } = setUp({ log: (message) => messages.push(message) });
    for (let i = 0; i < 3; i++) {
      pool.turn('a1', 10);
      await writer.heartbeat();
    }
    assert.equal(writer.stats.failures, 3);
    assert.equal(messages.length, 1);
    assert.match(messages[0]!, /cannot write .*w1\.metrics\.json.*Check free space/);

    rmSync(blocker);
    mkdirSync(blocker);
    await writer.heartbeat();
    assert.equal(readSnapshot(file).pools[0]!.prompts.total, 3, 'nothing was lost while the disk refused');
    assert.match(messages[1]!, /works again/);
  });

  it('never lets a reader see half a file', async () => {
    const { pool, writer, file } = setUp();
    for (let i = 0; i < 200; i++) pool.turn('a1', i, { sessionKey: `s${i}` });
    await writer.heartbeat();
    let reads = 0;
    const reader = (async () => {
      while (reads < 400) {
        readSnapshot(file);
        reads++;
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    for (let i = 0; i < 100; i++) {
      pool.turn('a1', i);
      await writer.heartbeat();
    }
    await reader;
    assert.equal(reads, 400);
  });

  it('keeps counters and session latencies for the next instance of the workspace through a state store', async () => {
    const store = new FileMetricsStateStore(join(dir, 'metrics-state', 'ws.json'));
    const clock = new ManualClock();
    const pool = new FakePool();
    const first = new MetricsCollector({ instanceId: 'w1', workspaceKey: 'ws', clock });
    first.attach(pool);
    const writer = new SnapshotWriter({
      file: join(dir, 'instances', 'w1.metrics.json'),
      produce: () => first.snapshot(),
      produceState: () => first.state(),
      onDidChange: first.onDidChange,
      stateStore: store,
      clock,
    });
    pool.turn('a1', 10, { sessionKey: 's1' });
    pool.turn('a1', 20, { sessionKey: 's1' });
    await writer.close();

    assert.equal(await loadPreviousMetrics(store, (id) => id === 'w1'), undefined, 'a live previous instance is not restored');
    const previous = await loadPreviousMetrics(store, () => false);
    const second = new MetricsCollector({ instanceId: 'w2', workspaceKey: 'ws', clock, restored: previous });
    const pool2 = new FakePool();
    second.attach(pool2);
    pool2.turn('b1', 40, { sessionKey: 's1' });
    const snapshot = second.snapshot();
    assert.equal(snapshot.pools[0]!.prompts.total, 3);
    const session = snapshot.sessions[0]!;
    assert.equal(session.prompts.total, 3);
    assert.equal(session.prompts.completionMs.count, 3, 'the session histogram came back whole');
    assert.equal(session.prompts.completionMs.min, 10);
    assert.equal(session.prompts.completionMs.max, 40);
  });

  it('keeps every counter through a state store even when given only the shared snapshot', async () => {
    const store = new FileMetricsStateStore(join(dir, 'metrics-state', 'ws.json'));
    const clock = new ManualClock();
    const pool = new FakePool();
    const first = new MetricsCollector({ instanceId: 'w1', workspaceKey: 'ws', clock });
    first.attach(pool);
    const writer = new SnapshotWriter({ file: join(dir, 'instances', 'w1.metrics.json'), produce: () => first.snapshot(), onDidChange: first.onDidChange, stateStore: store, clock });
    pool.turn('a1', 10, { sessionKey: 's1', sourceModule: 'ui', targetModule: 'core' });
    pool.turn('a1', 20, { sessionKey: 's1', sourceModule: 'ui', targetModule: 'core' });
    await writer.close();

    const second = new MetricsCollector({ instanceId: 'w2', workspaceKey: 'ws', clock, restored: await loadPreviousMetrics(store, () => false) });
    second.attach(new FakePool()).dispose();
    const snapshot = second.snapshot();
    assert.equal(snapshot.pools[0]!.prompts.completionMs.count, 2, 'pool histograms are shared, so they survive');
    assert.equal(snapshot.sessions[0]!.prompts.total, 2);
    assert.equal(snapshot.pairs[0]!.prompts.total, 2);
    assert.equal(snapshot.pairs[0]!.affinityHits, 1);
    assert.equal(snapshot.sessions[0]!.prompts.completionMs.count, 0, 'only summarized there: starts again');
  });

  it('restores from a schema-1 snapshot stored by an earlier version, and ignores damaged state', async () => {
    const path = join(dir, 'metrics-state', 'ws.json');
    mkdirSync(join(dir, 'metrics-state'), { recursive: true });
    const histogram = { scheme: 'log-linear-us-128', count: 2, sum: 30, min: 10, max: 20, buckets: [[bucketKeyOf(20), 1], [bucketKeyOf(10), 1]] };
    const figures = { total: 2, succeeded: 2, failed: 0, cancelled: 0, timedOut: 0, firstEventMs: histogram, completionMs: histogram, inputTokens: 0, outputTokens: 0, costUsd: 0 };
    const legacy = {
      schema: 1, kind: 'agent-pool-metrics', instanceId: 'w1', seq: 4, writtenAt: 0, agents: [], pairs: [],
      pools: [{ profile: 'demo', agents: { starting: 0, idle: 0, busy: 0, total: 0 }, queueDepth: 0, queueWaitMs: { ...histogram, count: 0, buckets: [] }, spawned: 1, prompts: figures }],
      sessions: [{ key: 's1', profile: 'demo', prompts: figures, affinityHits: 1, affinityChances: 1, affinity: 1 }],
    };
    writeFileSync(path, JSON.stringify(legacy));
    const restored = await loadPreviousMetrics(new FileMetricsStateStore(path), () => false);
    const collector = new MetricsCollector({ instanceId: 'w2', clock: new ManualClock(), restored });
    const snapshot = collector.snapshot();
    assert.equal(snapshot.pools[0]!.spawned, 1);
    assert.equal(snapshot.pools[0]!.prompts.completionMs.count, 2);
    assert.deepEqual(snapshot.pools[0]!.prompts.completionMs.buckets, [bucketKeyOf(10), 1, bucketKeyOf(20) - bucketKeyOf(10), 1]);
    assert.equal(snapshot.sessions[0]!.prompts.completionMs.count, 2);

    writeFileSync(path, '{"schema":1,"kind":"agent-pool-metrics-state"');
    assert.equal(await loadPreviousMetrics(new FileMetricsStateStore(path), () => false), undefined);
  });
});
