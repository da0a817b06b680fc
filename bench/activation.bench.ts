/**
 * Loading the shipped extension bundle (read, compile, evaluate), the part of activation that
 * happens before any of our code can time itself; activate() itself is timed in the real host by
 * the integration tests. Each sample is a fresh Node process requiring dist/extension.js with the
 * `vscode` module stubbed. Baseline: the same process requiring an empty module.
 * Goal (issue 6): activation under 100 ms.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../test/fixtures/repoRoot';
import type { BenchEntry } from './bench-entry';
import { percentile } from './pool-support';

const SAMPLES = 15;

const MEASURE = `
const Module = require('module');
const load = Module._load;
Module._load = function (request, ...rest) { return request === 'vscode' ? {} : load.call(this, request, ...rest); };
const started = performance.now();
require(process.argv[1]);
process.stdout.write(String(performance.now() - started));
`;

function loadTimes(file: string): number[] {
  return Array.from({ length: SAMPLES }, () => Number(spawnSync(process.execPath, ['-e', MEASURE, file], { encoding: 'utf8' }).stdout));
}

export async function run(): Promise<BenchEntry[]> {
  const empty = join(mkdtempSync(join(tmpdir(), 'ap-load-')), 'empty.js');
  writeFileSync(empty, '');
  const ours = percentile(loadTimes(join(repoRoot(), 'dist', 'extension.js')), 50);
  const baseline = percentile(loadTimes(empty), 50);
  return [
    {
      name: 'activation: loading dist/extension.js p50',
      ours,
      baseline,
      baselineName: 'requiring an empty module',
      ratio: ours / baseline,
      unit: 'ms',
      goal: 'load + activate() < 100 ms (activate() is reported by the integration tests)',
      met: ours < 100,
      details: { samples: SAMPLES },
    },
  ];
}
