/**
 * A strict reader of the Prometheus text exposition format (0.0.4), for tests: it throws on
 * anything a Prometheus server would reject or that breaks the format's rules.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedExposition {
  types: Map<string, string>;
  help: Map<string, string>;
  samples: ParsedSample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export function parsePrometheus(text: string): ParsedExposition {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const types = new Map<string, string>();
  const help = new Map<string, string>();
  const samples: ParsedSample[] = [];
  const finishedFamilies = new Set<string>();
  const seriesSeen = new Set<string>();
  let currentFamily: string | undefined;

  for (const [index, line] of text.slice(0, -1).split('\n').entries()) {
    const where = `line ${index + 1} "${line}"`;
    if (line.startsWith('# HELP ') || line.startsWith('# TYPE ')) {
      const [, kind, name, ...rest] = line.split(' ');
      if (!name || !METRIC_NAME.test(name)) throw new Error(`${where}: bad metric name`);
      if (kind === 'TYPE') {
        if (types.has(name)) throw new Error(`${where}: second TYPE line for ${name}`);
        if (samples.some((s) => familyOf(s.name, types) === name)) throw new Error(`${where}: TYPE after samples`);
        const type = rest.join(' ');
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(type)) throw new Error(`${where}: bad type`);
        if (type === 'counter' && !name.endsWith('_total')) throw new Error(`${where}: counter not named _total`);
        types.set(name, type);
      } else {
        help.set(name, unescapeHelp(rest.join(' ')));
      }
      if (currentFamily !== undefined && currentFamily !== name) finishedFamilies.add(currentFamily);
      currentFamily = name;
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = parseSample(line, where);
    const family = familyOf(sample.name, types);
    if (family === undefined) throw new Error(`${where}: sample without a TYPE line`);
    if (finishedFamilies.has(family)) throw new Error(`${where}: samples of ${family} are not together`);
    if (family !== currentFamily) {
      if (currentFamily !== undefined) finishedFamilies.add(currentFamily);
      currentFamily = family;
    }
    const series = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seriesSeen.has(series)) throw new Error(`${where}: duplicate series`);
    seriesSeen.add(series);
    samples.push(sample);
  }
  checkHistograms(types, samples);
  return { types, help, samples };
}

function familyOf(sampleName: string, types: Map<string, string>): string | undefined {
  if (types.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = sampleName.slice(0, -suffix.length);
    if (sampleName.endsWith(suffix) && types.get(base) === 'histogram') return base;
  }
  return undefined;
}

function parseSample(line: string, where: string): ParsedSample {
  const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)$/.exec(line);
  if (!match) throw new Error(`${where}: not a sample`);
  const [, name, labelText, valueText] = match;
  const labels: Record<string, string> = {};
  if (labelText) {
    let rest = labelText.slice(1, -1);
    while (rest.length > 0) {
      const label = /^([^=]+)="((?:[^"\\]|\\.)*)"(,|$)/.exec(rest);
      if (!label || !LABEL_NAME.test(label[1]!)) throw new Error(`${where}: bad label at "${rest}"`);
      if (label[1]! in labels) throw new Error(`${where}: label ${label[1]} twice`);
      labels[label[1]!] = unescapeLabel(label[2]!, where);
      rest = rest.slice(label[0].length);
    }
  }
  const value = valueText === '+Inf' ? Infinity : valueText === '-Inf' ? -Infinity : valueText === 'NaN' ? NaN : Number(valueText);
  if (Number.isNaN(value) && valueText !== 'NaN') throw new Error(`${where}: bad value`);
  return { name: name!, labels, value };
}

function unescapeLabel(text: string, where: string): string {
  return text.replace(/\\(.)/g, (_, char: string) => {
    if (char === 'n') return '\n';
    if (char === '\\' || char === '"') return char;
    throw new Error(`${where}: bad escape \\${char}`);
  });
}

function unescapeHelp(text: string): string {
  return text.replace(/\\([n\\])/g, (_, char: string) => (char === 'n' ? '\n' : '\\'));
}

/** Buckets cumulative and ending at +Inf = _count; every series has _sum and _count. */
function checkHistograms(types: Map<string, string>, samples: ParsedSample[]): void {
  for (const [family, type] of types) {
    if (type !== 'histogram') continue;
    const series = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
    for (const sample of samples) {
      if (familyOf(sample.name, types) !== family) continue;
      const { le, ...rest } = sample.labels;
      const key = JSON.stringify(Object.entries(rest).sort());
      const entry = series.get(key) ?? { buckets: [] };
      series.set(key, entry);
      if (sample.name === `${family}_bucket`) {
        if (le === undefined) throw new Error(`${family}: bucket without le`);
        entry.buckets.push([le === '+Inf' ? Infinity : Number(le), sample.value]);
      } else if (sample.name === `${family}_count`) entry.count = sample.value;
      else if (sample.name === `${family}_sum`) entry.sum = sample.value;
      else throw new Error(`${family}: unexpected sample ${sample.name}`);
    }
    for (const [key, entry] of series) {
      if (entry.count === undefined || entry.sum === undefined) throw new Error(`${family}${key}: missing _count or _sum`);
      const sorted = [...entry.buckets].sort((a, b) => a[0] - b[0]);
      if (sorted.at(-1)?.[0] !== Infinity) throw new Error(`${family}${key}: no +Inf bucket`);
      for (let i = 1; i < sorted.length; i++) {
        if (sorted[i]![1] < sorted[i - 1]![1]) throw new Error(`${family}${key}: buckets not cumulative`);
      }
      if (sorted.at(-1)![1] !== entry.count) throw new Error(`${family}${key}: +Inf bucket != _count`);
    }
  }
}
