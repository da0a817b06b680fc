/**
 * `npm run bench`: runs every `bench/*.bench.ts`, prints one table and writes bench-results.json.
 * Each figure is a ratio against a baseline measured in the same process, because absolute times on
 * shared 2-core machines drift. A bench module exports `run(): Promise<BenchEntry[]>`.
 * Run one with `npm run bench -- <name-substring>`.
 */
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BenchEntry } from './bench-entry';

async function main(): Promise<void> {
  const filter = process.argv[2];
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith('.bench.ts'))
    .filter((name) => !filter || name.includes(filter))
    .sort();
  const entries: BenchEntry[] = [];
  for (const file of files) {
    console.error(`[bench] ${file}`);
    const module = (await import(join(__dirname, file))) as { run(): Promise<BenchEntry[]> };
    entries.push(...(await module.run()));
  }
  const output = join(__dirname, '..', 'bench-results.json');
  writeFileSync(output, JSON.stringify({ date: new Date().toISOString(), node: process.version, entries }, null, 2) + '\n');
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

function round(value: number): number {
  return Math.abs(value) >= 100 ? Math.round(value) : Math.round(value * 1000) / 1000;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
