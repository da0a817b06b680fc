#!/usr/bin/env node
/**
 * `npm run bench:readme`: writes the table of the last `npm run bench` (bench-results.json) into
 * README.md between the bench-table markers, so the figures there always come from a run and say
 * when it was. Rows that `npm run bench -- <name>` re-ran keep the other rows of the earlier run.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const START = '<!-- bench-table:start -->';
const END = '<!-- bench-table:end -->';

function round(value) {
  if (!Number.isFinite(value)) return String(value);
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : Math.abs(value) >= 1 ? 2 : 3;
  return value.toFixed(digits);
}

function cell(text) {
  return String(text ?? '').replaceAll('|', '\\|');
}

const resultsPath = join(root, 'bench-results.json');
let results;
try {
  results = JSON.parse(readFileSync(resultsPath, 'utf8'));
} catch (error) {
  console.error(`Cannot read ${resultsPath} (${error.message}). Run \`npm run bench\` first.`);
  process.exit(1);
}

const rows = results.entries.map((e) => {
  const met = e.met === undefined ? '' : e.met ? 'yes' : '**no**';
  return `| ${cell(e.name)} | ${round(e.ours)} ${e.unit} | ${round(e.baseline)} ${e.unit} (${cell(e.baselineName)}) | ${round(e.ratio)} | ${cell(e.goal)} | ${met} |`;
});
const table = [
  `Last run: ${results.date.slice(0, 16).replace('T', ' ')} UTC, Node ${results.node}, \`npm run bench\` (production bundles, each bench file in its own process).`,
  '',
  '| benchmark | ours | baseline | ratio | goal | met |',
  '|---|---|---|---|---|---|',
  ...rows,
].join('\n');

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = readme.indexOf(START);
const end = readme.indexOf(END);
if (start < 0 || end < start) {
  console.error(`README.md has no ${START} ... ${END} block to fill.`);
  process.exit(1);
}
writeFileSync(readmePath, `${readme.slice(0, start + START.length)}\n${table}\n${readme.slice(end)}`);
console.log(`README.md: ${rows.length} benchmark rows from ${results.date}`);
