import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { WindowMetrics } from '../../../src/core/metrics/aggregate';
import { aggregateTotals } from '../../../src/core/metrics/runningTotals';
import { MetricsAggregator } from '../../../src/core/metrics/aggregator';
import { MetricsCollector } from '../../../src/core/metrics/collector';
import { InstanceFileReader } from '../../../src/core/metrics/instanceFiles';
import { metricsFilePath, recordFilePath } from '../../../src/core/directory/layout';
import { RunningTotals } from '../../../src/core/metrics/runningTotals';
import { parseMetricsSnapshot, type MetricsSnapshot } from '../../../src/core/metrics/snapshot';
import type { InstanceRecord } from '../../../src/core/registry/types';
import { latencySamples, referenceQuantile } from '../../fixtures/metrics/samples';
import { FakePool } from './fakePool';
import { ManualClock } from './manualClock';

function snapshotWith(id: string, samples: number[], options: { idle?: number; sessions?: boolean } = {}): MetricsSnapshot {
  const pool = new FakePool();
  const collector = new MetricsCollector({ instanceId: id, clock: new ManualClock() });
  collector.attach(pool);
  pool.setAgents(Array.from({ length: options.idle ?? 1 }, (_, i) => ({ id: `${id}-i${i}`, state: 'idle' as const })));
  samples.forEach((ms, i) =>
    pool.turn(`a${i % 3}`, ms, { firstEventMs: ms / 4, ...(options.sessions ? { sessionKey: `s${i % 5}`, sourceModule: 'ui', targetModule: 'core' } : {}) }),
  );
  return JSON.parse(JSON.stringify(collector.snapshot())) as MetricsSnapshot;
}

function windowOf(id: string, snapshot: MetricsSnapshot, standing: Partial<WindowMetrics> = {}): WindowMetrics {
  return { id, health: 'live', heartbeatAgeMs: 0, isSelf: false, snapshotStale: false, superseded: false, record: { id } as InstanceRecord, snapshot, ...standing };
}

describe('incremental aggregation', () => {
  it('shares full histograms only per pool; agents, sessions and pairs carry summaries', () => {
    const samples = latencySamples(300, 5, 800);
    const snapshot = snapshotWith('w1', samples, { sessions: true });
    assert.equal(snapshot.schema, 2);
    assert.equal(snapshot.pools[0]!.prompts.completionMs.count, 300);
    assert.ok(Array.isArray(snapshot.pools[0]!.prompts.completionMs.buckets), 'pools keep mergeable buckets');
    for (const item of [...snapshot.agents, ...snapshot.sessions, ...snapshot.pairs]) {
      assert.deepEqual(Object.keys(item.prompts.completionMs).sort(), ['avg', 'count', 'max', 'min', 'p50', 'p95', 'p99']);
    }
    // Each summary is computed from that key's own samples, within half a bucket.
    const session = snapshot.sessions.find((s) => s.key === 's0')!;
    const own = samples.filter((_, i) => i % 5 === 0);
    assert.equal(session.prompts.completionMs.count, own.length);
    const expected = referenceQuantile(own, 0.95);
    assert.ok(Math.abs(session.prompts.completionMs.p95 - expected) <= expected / 256 + 0.001);
    assert.equal(snapshot.pairs[0]!.prompts.completionMs.max, Math.max(...samples));
  });

  it('refuses a schema-1 snapshot as wrong-schema', () => {
    const current = snapshotWith('w1', [10, 20]);
    assert.deepEqual(parseMetricsSnapshot(JSON.stringify({ ...current, schema: 1 })), { problem: 'wrong-schema' });
    // Right number, old shape (histograms where summaries belong): refused too, never half-read.
    const oldShape = { ...current, agents: [{ ...current.agents[0], prompts: current.pools[0]!.prompts }] };
    assert.deepEqual(parseMetricsSnapshot(JSON.stringify(oldShape)), { problem: 'wrong-schema' });
  });

  it('keeps running totals equal to totals computed from scratch through every kind of change', () => {
    const snapshots = [0, 1, 2, 3].map((w) => snapshotWith(`w${w}`, latencySamples(200, w + 1, 100 * (w + 1)), { idle: w + 1 }));
    const running = new RunningTotals();
    const steps: WindowMetrics[][] = [
      snapshots.map((s, w) => windowOf(`w${w}`, s)),
      // w1 writes a new snapshot with more prompts
      snapshots.map((s, w) => windowOf(`w${w}`, w === 1 ? snapshotWith('w1', latencySamples(250, 9, 5000), { idle: 2 }) : s)),
      // w2 is carried on by a reload (gauges only), w3 goes silent
      snapshots.map((s, w) => windowOf(`w${w}`, s, { superseded: w === 2, health: w === 3 ? 'unresponsive' : 'live' })),
      // w3 is dead, w0 left
      snapshots.slice(1).map((s, w) => windowOf(`w${w + 1}`, s, { health: w + 1 === 3 ? 'dead' : 'live' })),
      [],
      snapshots.map((s, w) => windowOf(`w${w}`, s)),
    ];
    for (const [index, windows] of steps.entries()) {
      assert.deepEqual(running.update(windows, 'w1'), aggregateTotals(windows, 'w1'), `step ${index}`);
    }
    const all = [0, 1, 2, 3].flatMap((w) => latencySamples(200, w + 1, 100 * (w + 1)));
    const totals = running.update(steps[5]!, undefined);
    assert.equal(totals.completionMs.count, all.length);
    const expected = referenceQuantile(all, 0.95);
    assert.ok(Math.abs(totals.completionMs.p95 - expected) <= expected / 256 + 0.001);
    assert.equal(totals.completionMs.max, Math.max(...all));
  });

  describe('reading only what changed', () => {
    let dir: string;
    let instances: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'ap-incr-'));
      instances = join(dir, 'instances');
      mkdirSync(instances);
    });
    afterEach(() => rmSync(dir, { recursive: true, force: true }));

    it('re-reads only the files the watcher named, and drops a named file that is gone without counting it', async () => {
      writeFileSync(metricsFilePath(dir, 'a'), JSON.stringify(snapshotWith('a', [10])));
      writeFileSync(metricsFilePath(dir, 'b'), JSON.stringify(snapshotWith('b', [10])));
      const reader = new InstanceFileReader(instances);
      await reader.scan('metrics-only');
      writeFileSync(metricsFilePath(dir, 'a'), JSON.stringify(snapshotWith('a', [10, 20])));
      writeFileSync(metricsFilePath(dir, 'b'), 'garbage that a full scan would count');
      let files = await reader.update('metrics-only', ['a.metrics.json', 'a.json', '.a.metrics.json.1.ff.tmp']);
      assert.equal(files.snapshots.get('a')!.pools[0]!.prompts.total, 2, 'the named file was re-read');
      assert.equal(files.snapshots.get('b')!.pools[0]!.prompts.total, 1, 'the unnamed one was not');
      assert.equal(reader.skipped().total, 0);

      rmSync(metricsFilePath(dir, 'a'));
      files = await reader.update('metrics-only', ['a.metrics.json']);
      assert.deepEqual([...files.snapshots.keys()], ['b']);
      assert.equal(reader.skipped().total, 0, 'a window removing its file is not a bad file');
      await reader.scan('metrics-only');
      assert.equal(reader.skipped().total, 1, 'the next full scan finds what no event named');
    });

    it('follows a changed window through the watcher, parsing only that file', async () => {
      // A whole record: readers check every field before use (issue 13), so a partial one is a bad file.
      const record = (id: string): InstanceRecord => ({
        schema: 1, id, pid: process.pid, processStartTime: 'unknown', hostname: hostname(), workspaceName: id, workspaceFolders: [],
        extensionVersion: '0.0.0-test', startedAt: Date.now(), lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: Date.now(),
      });
      for (const id of ['w1', 'w2', 'w3']) {
        writeFileSync(recordFilePath(dir, id), JSON.stringify(record(id)));
        writeFileSync(metricsFilePath(dir, id), JSON.stringify(snapshotWith(id, [100, 200])));
      }
      const aggregator = new MetricsAggregator({ directory: dir, debounceMs: 0, pollIntervalMs: 3_600_000 });
      try {
        const first = await aggregator.start();
        assert.equal(first.totals.prompts.total, 6);
        const before = first.windows.find((w) => w.id === 'w3')!.snapshot;

        const changed = new Promise<void>((resolve) => {
          const listener = aggregator.onDidChange((view) => {
            if (view.totals.prompts.total !== 7) return;
            listener.dispose();
            resolve();
          });
        });
        const next = snapshotWith('w1', [100, 200, 300]);
        writeFileSync(`${metricsFilePath(dir, 'w1')}.x.tmp`, JSON.stringify({ ...next, seq: 99 }));
        rmSync(metricsFilePath(dir, 'w1'));
        writeFileSync(metricsFilePath(dir, 'w1'), readFileSync(`${metricsFilePath(dir, 'w1')}.x.tmp`));
        await changed;
        const view = aggregator.current;
        assert.equal(view.totals.completionMs.count, 7);
        assert.equal(view.totals.completionMs.max, 300);
        assert.equal(view.windows.find((w) => w.id === 'w3')!.snapshot, before, 'an unchanged window keeps its parsed snapshot');
      } finally {
        aggregator.dispose();
      }
    });
  });
});
