/**
 * The extension host's CPU while the window is idle and 5 other windows heartbeat (every 500 ms)
 * into the same registry directory: Agent Pool active with the demo profile and one warm agent,
 * against the same offline VS Code host with no extension. Measured by bench/idle-cpu-host.mjs in
 * the real host (code-server + headless Chromium; bash scripts/ensure-vscode-host.sh installs it).
 * Absolute figures are shares of one core.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { repoRoot } from '../test/fixtures/repoRoot';
import type { BenchEntry } from './bench-entry';

const SECONDS = 30;

export async function run(): Promise<BenchEntry[]> {
  const script = join(repoRoot(), 'bench', 'idle-cpu-host.mjs');
  const child = spawnSync(process.execPath, [script, String(SECONDS)], { encoding: 'utf8', timeout: 10 * 60_000 });
  const line = child.stdout.split('\n').find((l) => l.startsWith('{'));
  if (child.status !== 0 || !line) throw new Error(`idle-cpu-host.mjs failed (exit ${child.status}): ${child.stderr.slice(-1500)}`);
  const { extension, disabled } = JSON.parse(line) as Record<'extension' | 'disabled', { percent: number; cpuMs: number }>;
  return [
    {
      name: 'idle extension host CPU, 5 other windows heartbeating',
      ours: extension.percent,
      baseline: disabled.percent,
      baselineName: 'the same host with the extension disabled',
      ratio: extension.percent / Math.max(disabled.percent, 0.01),
      unit: '% of a core',
      goal: 'under 1 percentage point above the host without the extension',
      met: extension.percent - disabled.percent < 1,
      details: { seconds: SECONDS, extensionCpuMs: extension.cpuMs, disabledCpuMs: disabled.cpuMs },
    },
  ];
}
