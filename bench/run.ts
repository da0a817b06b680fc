/**
 * `npm run bench`: runs every `bench/*.bench.ts`, prints one table and writes bench-results.json.
 * Each figure is a ratio against a baseline measured in the same process, because absolute times on
 * shared 2-core machines drift. A bench module exports `run(): Promise<BenchEntry[]>`.
 * Run one with `npm run bench -- <name-substring>`.
 *
 * Each bench file is bundled and minified by esbuild like the shipped extension (so the figures are
 * those of the code that ships, not of tsx's on-the-fly transform), and runs in a process of its
 * own, so one benchmark's heap and JIT state (the soak's 100,000 prompts, say) cannot put GC pauses
 * into the next one's tail latencies.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as esbuild from 'esbuild';
import type { BenchEntry } from './bench-entry';

const RESULT_MARKER = '@@bench-result ';
const OUT = join(__dirname, '..', 'out', 'bench');

async function bundle(files: string[]): Promise<void> {
  await esbuild.build({
    entryPoints: files.map((file) => join(__dirname, file)),
    outdir: OUT,
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20',
    minify: true,
    // As in scripts/build.mjs: ESM-only dependencies become cjs, import.meta.url included.
    define: { 'import.meta.url': 'importMetaUrl' },
    banner: { js: "const importMetaUrl = require('url').pathToFileURL(__filename).href;" },
    logLevel: 'warning',
  });
}

function runInChild(file: string): BenchEntry[] {
  const script = `require(process.argv[1]).run().then((entries) => process.stdout.write(${JSON.stringify(RESULT_MARKER)} + JSON.stringify(entries) + '\\n'))`;
  const child = spawnSync(process.execPath, ['-e', script, join(OUT, file.replace(/\.ts$/, '.js'))], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = child.stdout.split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (child.status !== 0 || !line) throw new Error(`${file} failed (exit ${child.status}):\n${child.stdout.slice(-2000)}`);
  return JSON.parse(line.slice(RESULT_MARKER.length)) as BenchEntry[];
}

async function main(): Promise<void> {
  const filter = process.argv[2];
  const files = readdirSync(__dirname)
    .filter((name) => name.endsWith('.bench.ts'))
    .filter((name) => !filter || name.includes(filter))
    .sort();
  await bundle(files);
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
