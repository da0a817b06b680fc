/**
 * Soak: 100,000 prompts through 4 demo agents. Reports the pool process's heap before and after
 * (after forced GC; goal: under 5 MB of growth), and checks for leaked file descriptors and event
 * listeners. Baseline figure: the heap before the run.
 */
import { readdirSync } from 'node:fs';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import type { BenchEntry } from './bench-entry';
import { benchPool } from './pool-support';

const PROMPTS = 100_000;
const CALLERS = 8;

function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  for (let i = 0; i < 3; i++) gc();
}

function openFds(): number {
  return readdirSync('/proc/self/fd').length;
}

export async function run(): Promise<BenchEntry[]> {
  const pool = benchPool({ minAgents: 4, maxAgents: 4, autoscale: false, queueLimit: 1000, sessionMode: 'reuse' });
  await pool.start();
  for (let i = 0; i < 2_000; i++) await pool.run('warm-up');
  collectGarbage();
  const heapBefore = process.memoryUsage().heapUsed;
  const fdsBefore = openFds();
  const listenersBefore = pool.events.listenerCount;
  let remaining = PROMPTS;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      while (remaining-- > 0) await pool.run('soak');
    }),
  );
  const seconds = (performance.now() - start) / 1000;
  collectGarbage();
  const heapAfter = process.memoryUsage().heapUsed;
  const fdsAfter = openFds();
  const listenersAfter = pool.events.listenerCount;
  await pool.close();
  const growthMb = (heapAfter - heapBefore) / 1024 / 1024;
  return [
    {
      name: 'soak heap after 100k prompts',
      ours: heapAfter / 1024 / 1024,
      baseline: heapBefore / 1024 / 1024,
      baselineName: 'heap before the soak',
      ratio: heapAfter / heapBefore,
      unit: 'MB',
      goal: 'growth < 5 MB, no fd or listener leak',
      met: growthMb < 5 && fdsAfter <= fdsBefore && listenersAfter <= listenersBefore,
      details: { growthMb, prompts: PROMPTS, seconds, promptsPerSecond: PROMPTS / seconds, fdsBefore, fdsAfter, listenersBefore, listenersAfter },
    },
  ];
}
