/**
 * `npm run bench`: runs every `bench/*.bench.ts`, prints one table and writes bench-results.json.
 * Each figure is a ratio against a baseline measured in the same process, because absolute times on
 * shared 2-core machines drift. A bench module exports `run(): Promise<BenchEntry[]>`.
 * Run one with `npm run bench -- <name-substring>`.
 *
 * Each bench file runs in a process of its own, so one benchmark's heap and JIT state (the soak's
 * 100,000 prompts, say) cannot put GC pauses into the next one's tail latencies.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEntry } from './bench-entry';

const RESULT_MARKER = '@@bench-result ';

/** Child mode: `run.ts --one <file>` runs one bench module and prints its entries on one marked line. */
async function runOne(file: string): Promise<void> {
  const module = (await import(join(__dirname, file))) as { run(): Promise<BenchEntry[]> };
  const entries = await module.run();
  process.stdout.write(`${RESULT_MARKER}${JSON.stringify(entries)}\n`);
}

function runInChild(file: string): BenchEntry[] {
  const child = spawnSync(process.execPath, [...process.execArgv, __filename, '--one', file], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (child.status !== 0 || !line) throw new Error(`${file} failed (exit ${child.status}):\n${child.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as BenchEntry[];
}

async function main(): Promise<void> {
  if (process.argv[2] === '--one') return runOne(process.argv[3]);
  const filter = process.argv[2];
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith('.bench.ts'))
    .filter((name) => !filter || name.includes(filter))
    .sort();
  const entries: BenchEntry[] = [];
  for (const file of files) {
    console.error(`[bench] ${file}`);
    entries.push(...runInChild(file));
  }
  const output = join(__dirname, '..', 'bench-results.json');
  // A filtered run replaces only its own rows, so one benchmark can be re-run without losing the others.
  const kept = filter ? previousEntries(output).filter((old) => !entries.some((e) => e.name === old.name)) : [];
  writeFileSync(output, JSON.stringify({ date: new Date().toISOString(), node: process.version, entries: [...kept, ...entries] }, null, 2) + '\n');
  console.table(
    entries.map((e) => ({
      benchmark: e.name,
      ours: `${round(e.ours)} ${e.unit}`,
      baseline: `${round(e.baseline)} ${e.unit} (${e.baselineName})`,
      ratio: round(e.ratio),
      goal: e.goal ?? '',
      met: e.met === undefined ? '' : e.met ? 'yes' : 'NO',
    })),
  );
  console.log(`wrote ${output}`);
}

function previousEntries(path: string): BenchEntry[] {
  try {
    return (JSON.parse(readFileSync(path, 'utf8')) as { entries: BenchEntry[] }).entries ?? [];
  } catch {
    return [];
  }
}

function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 1000) / 1000;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
