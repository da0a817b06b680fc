/**
 * Aggregating N window snapshots from disk (goals: 100 windows < 5 ms, 1,000 < 50 ms), against the
 * raw floor: readdir + readFile + JSON.parse of the very same files, no validation, no merging.
 */
import { promises as fs, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsAggregator } from '../src/core/metrics/aggregator';
import { MetricsCollector } from '../src/core/metrics/collector';
import { metricsFilePath, recordFilePath } from '../src/core/metrics/layout';
import { Emitter } from '../src/core/common/event';
import type { PoolEvent, PoolSnapshot } from '../src/core/pool/events';
import { currentProcessIdentity } from '../src/core/process/identity';
import { latencySamples } from '../test/fixtures/metrics/samples';
import type { BenchEntry } from './bench-entry';

async function populate(dir: string, windows: number): Promise<void> {
  mkdirSync(join(dir, 'instances'), { recursive: true });
  const startTime = (await currentProcessIdentity()).startTime;
  for (let w = 0; w < windows; w++) {
    const id = `20250101_000000_${process.pid}_${w.toString(16).padStart(8, '0')}`;
    const events = new Emitter<PoolEvent>();
    const pool: PoolSnapshot = {
      profile: 'demo', minAgents: 1, maxAgents: 4, strategy: 'least-busy', queueDepth: w % 3, circuit: { state: 'closed' }, closed: false,
      agents: [0, 1, 2].map((i) => ({ id: `a${i}`, profile: 'demo', state: i === 0 ? 'busy' : 'idle', turns: 0, startedAt: 0, restarts: 0, rssBytes: 1e8 })),
    };
    const collector = new MetricsCollector({ instanceId: id });
    collector.attach({ onDidEmit: events.event, snapshot: () => pool });
    latencySamples(300, w + 1, 1500).forEach((totalMs, i) =>
      events.fire({ type: 'turn-finished', agentId: `a${i % 3}`, profile: 'demo', outcome: 'succeeded', totalMs, firstEventMs: totalMs / 5, sessionKey: `s${i % 5}`, usage: { inputTokens: 100, outputTokens: 20 } }),
    );
    writeFileSync(metricsFilePath(dir, id), JSON.stringify(collector.snapshot()));
    writeFileSync(
      recordFilePath(dir, id),
      JSON.stringify({ schema: 1, id, pid: process.pid, processStartTime: startTime, hostname: hostname(), workspaceName: `ws${w}`, workspaceFolders: [], extensionVersion: '0.1.0', startedAt: Date.now(), lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: Date.now() }),
    );
  }
}

async function rawRead(dir: string): Promise<number> {
  const instances = join(dir, 'instances');
  const names = await fs.readdir(instances);
  const parsed = await Promise.all(names.map(async (name) => JSON.parse(await fs.readFile(join(instances, name), 'utf8')) as unknown));
  return parsed.length;
}

async function timeIt(repeats: number, body: () => Promise<unknown>): Promise<{ median: number; p95: number }> {
  await body(); // warm-up (JIT, page cache)
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const start = performance.now();
    await body();
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, p95: times[Math.min(times.length - 1, Math.ceil(times.length * 0.95) - 1)]! };
}

export async function run(): Promise<BenchEntry[]> {
  const entries: BenchEntry[] = [];
  for (const [windows, goalMs, repeats] of [[100, 5, 40], [1000, 50, 12]] as const) {
    const dir = mkdtempSync(join(tmpdir(), 'ap-bench-agg-'));
    try {
      await populate(dir, windows);
      const baseline = await timeIt(repeats, () => rawRead(dir));
      let totals = 0;
      const cold = await timeIt(repeats, async () => {
        const aggregator = new MetricsAggregator({ directory: dir });
        totals = (await aggregator.refresh()).totals.windows;
        aggregator.dispose();
      });
      if (totals !== windows) throw new Error(`aggregate saw ${totals} windows, expected ${windows}`);
      const warmAggregator = new MetricsAggregator({ directory: dir });
      await warmAggregator.refresh();
      let touched = 0;
      const warm = await timeIt(repeats, async () => {
        const id = `20250101_000000_${process.pid}_${(touched++ % windows).toString(16).padStart(8, '0')}`;
        const file = metricsFilePath(dir, id);
        await fs.writeFile(`${file}.tmp`, await fs.readFile(file));
        await fs.rename(`${file}.tmp`, file);
        await warmAggregator.refresh();
      });
      warmAggregator.dispose();
      entries.push({
        name: `aggregate ${windows} windows (cold, median)`,
        ours: cold.median,
        baseline: baseline.median,
        baselineName: 'readdir+readFile+JSON.parse',
        ratio: cold.median / baseline.median,
        unit: 'ms',
        goal: `< ${goalMs} ms`,
        met: cold.median < goalMs,
        details: { p95: round(cold.p95), baselineP95: round(baseline.p95), files: windows * 2, repeats },
      });
      entries.push({
        name: `aggregate ${windows} windows (one changed, median)`,
        ours: warm.median,
        baseline: baseline.median,
        baselineName: 'readdir+readFile+JSON.parse',
        ratio: warm.median / baseline.median,
        unit: 'ms',
        goal: `< ${goalMs} ms`,
        met: warm.median < goalMs,
        details: { p95: round(warm.p95), note: 'includes rewriting one snapshot file', repeats },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  return entries;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}
