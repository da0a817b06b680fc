/**
 * Cost of keeping the snapshot file current under a burst of 10,000 metric updates: the throttled
 * SnapshotWriter (at most one write per 500 ms, trailing write guaranteed) against the obvious
 * alternative, an atomic write after every update. Both run the same collector in this process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Emitter } from '../src/core/common/event';
import { writeFileAtomically } from '../src/core/directory/privateFiles';
import { MetricsCollector } from '../src/core/metrics/collector';
import { SnapshotWriter } from '../src/core/metrics/snapshotWriter';
import type { PoolEvent, PoolSnapshot } from '../src/core/pool/events';
import { latencySamples } from '../test/fixtures/metrics/samples';
import type { BenchEntry } from './bench-entry';

const UPDATES = 10_000;
/** Writing after every update costs milliseconds each: 1,000 of them give its per-update cost. */
const BASELINE_UPDATES = 1_000;
/** Updates between yields to the event loop: a burst, but one that lets timers and I/O run. */
const BATCH = 50;

function setUp(): { events: Emitter<PoolEvent>; collector: MetricsCollector; turns: number[] } {
  const events = new Emitter<PoolEvent>();
  const pool: PoolSnapshot = { profile: 'demo', minAgents: 1, maxAgents: 4, strategy: 'least-busy', agents: [], queueDepth: 0, circuit: { state: 'closed' }, closed: false };
  const collector = new MetricsCollector({ instanceId: 'bench' });
  collector.attach({ onDidEmit: events.event, snapshot: () => pool });
  return { events, collector, turns: latencySamples(UPDATES, 3, 800) };
}

function turn(events: Emitter<PoolEvent>, totalMs: number, i: number): void {
  events.fire({ type: 'turn-finished', agentId: `a${i % 4}`, profile: 'demo', outcome: 'succeeded', totalMs, sessionKey: `s${i % 8}` });
}

export async function run(): Promise<BenchEntry[]> {
  const dir = mkdtempSync(join(tmpdir(), 'ap-bench-write-'));
  try {
    // Ours: the throttled writer.
    const throttled = setUp();
    const file = join(dir, 'throttled.metrics.json');
    const writer = new SnapshotWriter({ file, produce: () => throttled.collector.snapshot(), onDidChange: throttled.collector.onDidChange });
    const start = performance.now();
    for (let i = 0; i < UPDATES; i++) {
      turn(throttled.events, throttled.turns[i]!, i);
      if (i % BATCH === BATCH - 1) await new Promise((resolve) => setImmediate(resolve));
    }
    const burstMs = performance.now() - start;
    await writer.close(); // the trailing write
    const oursMs = performance.now() - start;
    const written = JSON.parse(readFileSync(file, 'utf8')) as { pools: Array<{ prompts: { total: number } }> };
    if (written.pools[0]!.prompts.total !== UPDATES) throw new Error('the trailing write lost updates');
    const { writes } = writer.stats;

    // Baseline: one atomic write per update.
    const eager = setUp();
    const eagerFile = join(dir, 'eager.metrics.json');
    const baselineStart = performance.now();
    for (let i = 0; i < BASELINE_UPDATES; i++) {
      turn(eager.events, eager.turns[i]!, i);
      await writeFileAtomically(eagerFile, JSON.stringify(eager.collector.snapshot()));
    }
    const baselineMs = performance.now() - baselineStart;

    const oursPerUpdate = (oursMs * 1000) / UPDATES;
    const baselinePerUpdate = (baselineMs * 1000) / BASELINE_UPDATES;
    const allowedWrites = Math.ceil(burstMs / 500) + 2;
    return [
      {
        name: 'snapshot write cost per update (10,000-update burst)',
        ours: oursPerUpdate,
        baseline: baselinePerUpdate,
        baselineName: 'atomic write after every update',
        ratio: oursPerUpdate / baselinePerUpdate,
        unit: 'µs',
        goal: `writes bounded by the 500 ms throttle (<= ${allowedWrites})`,
        met: writes <= allowedWrites,
        details: {
          writes,
          baselineWrites: BASELINE_UPDATES,
          baselineUpdates: BASELINE_UPDATES,
          burstMs: Math.round(burstMs),
          oursTotalMs: Math.round(oursMs),
          baselineTotalMs: Math.round(baselineMs),
          costPerWriteMs: Math.round((baselineMs / BASELINE_UPDATES) * 1000) / 1000,
        },
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
