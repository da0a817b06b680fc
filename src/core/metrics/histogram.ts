/**
 * A latency histogram that merges exactly across agents, pools and windows.
 *
 * Values are milliseconds, quantized to whole microseconds and counted in fixed log-linear
 * buckets (HDR-style): below 256 µs every microsecond has its own bucket; above, each power of two
 * is split into 128 equal sub-buckets, so a bucket is never wider than 1/128 of its lower bound
 * (< 0.8 %). Because the bucket boundaries are the same everywhere, merging is adding counts, and
 * a percentile of the merge is as exact as a percentile of one histogram: never average percentiles.
 */

/** Identifies the bucket layout; histograms with another scheme are refused rather than mis-merged. */
export const HISTOGRAM_SCHEME = 'log-linear-us-128';

const SUB_BUCKET_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS; // 128
const LINEAR_LIMIT = SUB_BUCKETS * 2; // 256: exact up to here
const MICROS_PER_MS = 1000;
/** Beyond this (about 285 years) values are clamped; keeps every key a safe integer. */
const MAX_MICROS = 2 ** 52;

/**
 * The JSON form stored in snapshots. `buckets` holds only the buckets that have samples, as one flat
 * delta-encoded array `[firstKey, count, keyStep, count, keyStep, count, ...]` (keys ascending, each
 * step > 0): neighbouring keys differ by a few units, so this is about half the text of
 * `[[key, count], ...]` pairs, and text is what every reader pays to parse. Lossless.
 */
export interface HistogramData {
  scheme: typeof HISTOGRAM_SCHEME;
  count: number;
  /** Sum of recorded values in ms (not quantized), so averages are exact. */
  sum: number;
  /** Exact extremes in ms; 0 when empty. */
  min: number;
  max: number;
  buckets: number[];
}

export interface HistogramSummary {
  count: number;
  min: number;
  max: number;
  avg: number;
  p50: number;
  p95: number;
  p99: number;
}

export class Histogram {
  private readonly counts = new Map<number, number>();
  private total = 0;
  private sumMs = 0;
  private minMs = Infinity;
  private maxMs = -Infinity;

  static fromData(data: HistogramData): Histogram {
    const histogram = new Histogram();
    histogram.mergeData(data);
    return histogram;
  }

  /** Merges many histograms (in JSON form) into one; the result is independent of order. */
  static merge(items: Iterable<HistogramData | Histogram | undefined>): Histogram {
    const merged = new Histogram();
    for (const item of items) {
      if (item instanceof Histogram) merged.mergeHistogram(item);
      else if (item) merged.mergeData(item);
    }
    return merged;
  }

  get count(): number {
    return this.total;
  }

  get sum(): number {
    return this.sumMs;
  }

  /** Exact smallest sample in ms; Infinity when empty. */
  get min(): number {
    return this.minMs;
  }

  /** Exact largest sample in ms; -Infinity when empty. */
  get max(): number {
    return this.maxMs;
  }

  /** Visits every non-empty bucket, in no particular order. */
  forEachBucket(visit: (key: number, count: number) => void): void {
    for (const [key, count] of this.counts) visit(key, count);
  }

  record(valueMs: number, times = 1): void {
    if (!Number.isFinite(valueMs) || valueMs < 0 || times <= 0) return;
    const key = bucketKeyOf(valueMs);
    this.counts.set(key, (this.counts.get(key) ?? 0) + times);
    this.total += times;
    this.sumMs += valueMs * times;
    if (valueMs < this.minMs) this.minMs = valueMs;
    if (valueMs > this.maxMs) this.maxMs = valueMs;
  }

  mergeHistogram(other: Histogram): void {
    if (other.total === 0) return;
    for (const [key, count] of other.counts) this.counts.set(key, (this.counts.get(key) ?? 0) + count);
    this.addTotals(other.total, other.sumMs, other.minMs, other.maxMs);
  }

  /** Adds a stored histogram; throws on a different bucket scheme (callers validate first). */
  mergeData(data: HistogramData): void {
    if (data.scheme !== HISTOGRAM_SCHEME) {
      throw new Error(`histogram scheme "${String(data.scheme)}" cannot be merged into "${HISTOGRAM_SCHEME}"`);
    }
    if (data.count === 0) return;
    // Buckets are checked here rather than when the file is read: only merged histograms cost anything.
    forEachStoredBucket(data, (key, count) => this.counts.set(key, (this.counts.get(key) ?? 0) + count));
    this.addTotals(data.count, data.sum, data.min, data.max);
  }

  /**
   * The value below which `quantile` of the samples fall (nearest rank). The answer is the middle
   * of the bucket holding that sample, clamped to the exact min and max, so it is within half a
   * bucket (< 0.4 %, or 0.5 µs) of the true sample.
   */
  quantile(quantile: number): number {
    return quantilesOfCounts(this.counts, this.total, this.minMs, this.maxMs, [quantile])[0]!;
  }

  /** Samples at or below `limitMs`, counting a bucket only when all of it is at or below the limit. */
  countAtOrBelow(limitMs: number): number {
    const limitMicros = Math.floor(limitMs * MICROS_PER_MS);
    let below = 0;
    for (const [key, count] of this.counts) {
      if (bucketBounds(key).upperMicros - 1 <= limitMicros) below += count;
    }
    return below;
  }

  summary(): HistogramSummary {
    return summarizeCounts(this.counts, this.total, this.sumMs, this.minMs, this.maxMs);
  }

  toData(): HistogramData {
    const buckets: number[] = [];
    let previousKey = 0;
    for (const key of this.sortedKeys()) {
      buckets.push(key - previousKey, this.counts.get(key)!);
      previousKey = key;
    }
    return {
      scheme: HISTOGRAM_SCHEME,
      count: this.total,
      sum: this.sumMs,
      min: this.total === 0 ? 0 : this.minMs,
      max: this.total === 0 ? 0 : this.maxMs,
      buckets,
    };
  }

  private addTotals(count: number, sum: number, min: number, max: number): void {
    this.total += count;
    this.sumMs += sum;
    if (min < this.minMs) this.minMs = min;
    if (max > this.maxMs) this.maxMs = max;
  }

  private sortedKeys(): number[] {
    return [...this.counts.keys()].sort((a, b) => a - b);
  }
}

/**
 * Summary of bucket counts with exact count, sum and extremes (what a Histogram holds, or a running
 * total across windows). Percentiles walk the sorted buckets once for all three.
 */
export function summarizeCounts(counts: ReadonlyMap<number, number>, total: number, sumMs: number, minMs: number, maxMs: number): HistogramSummary {
  if (total === 0) return { count: 0, min: 0, max: 0, avg: 0, p50: 0, p95: 0, p99: 0 };
  const [p50, p95, p99] = quantilesOfCounts(counts, total, minMs, maxMs, [0.5, 0.95, 0.99]);
  return { count: total, min: minMs, max: maxMs, avg: sumMs / total, p50: p50!, p95: p95!, p99: p99! };
}

/**
 * The values below which each (ascending) quantile of the samples falls (nearest rank). The answer
 * is the middle of the bucket holding that sample, clamped to the exact min and max, so it is
 * within half a bucket (< 0.4 %, or 0.5 µs) of the true sample.
 */
function quantilesOfCounts(counts: ReadonlyMap<number, number>, total: number, minMs: number, maxMs: number, quantiles: number[]): number[] {
  if (total === 0) return quantiles.map(() => 0);
  const keys = [...counts.keys()].sort((a, b) => a - b);
  const answers: number[] = [];
  let seen = 0;
  let index = 0;
  for (const quantile of quantiles) {
    const rank = Math.min(total, Math.max(1, Math.ceil(quantile * total)));
    while (index < keys.length && seen + counts.get(keys[index]!)! < rank) seen += counts.get(keys[index++]!)!;
    if (index >= keys.length) {
      answers.push(maxMs);
      continue;
    }
    const { lowerMicros, upperMicros } = bucketBounds(keys[index]!);
    const middleMs = (lowerMicros + upperMicros - 1) / 2 / MICROS_PER_MS;
    answers.push(Math.min(maxMs, Math.max(minMs, middleMs)));
  }
  return answers;
}

/**
 * Decodes stored buckets (see HistogramData). Stops at the first malformed entry: after a bad step
 * no later key can be placed, so the rest is left out rather than put in the wrong buckets.
 */
export function forEachStoredBucket(data: HistogramData, visit: (key: number, count: number) => void): void {
  const buckets = data.buckets;
  let key = 0;
  for (let i = 0; i + 1 < buckets.length; i += 2) {
    const step = buckets[i]!;
    const count = buckets[i + 1]!;
    if (!Number.isInteger(step) || step < (i === 0 ? 0 : 1) || !Number.isInteger(count) || count <= 0) return;
    key += step;
    visit(key, count);
  }
}

export function emptyHistogramData(): HistogramData {
  return { scheme: HISTOGRAM_SCHEME, count: 0, sum: 0, min: 0, max: 0, buckets: [] };
}

/** Bucket key of a value: monotone in the value, so sorting keys sorts buckets. */
export function bucketKeyOf(valueMs: number): number {
  const micros = Math.min(MAX_MICROS, Math.round(valueMs * MICROS_PER_MS));
  if (micros < LINEAR_LIMIT) return micros;
  const shift = highestBit(micros) - SUB_BUCKET_BITS;
  const subBucket = Math.floor(micros / 2 ** shift); // in [128, 256)
  return shift * SUB_BUCKETS + subBucket;
}

/** `[lowerMicros, upperMicros)` of a bucket key. */
export function bucketBounds(key: number): { lowerMicros: number; upperMicros: number } {
  if (key < LINEAR_LIMIT) return { lowerMicros: key, upperMicros: key + 1 };
  const shift = Math.floor(key / SUB_BUCKETS) - 1;
  const subBucket = key - shift * SUB_BUCKETS;
  const width = 2 ** shift;
  return { lowerMicros: subBucket * width, upperMicros: (subBucket + 1) * width };
}

/** Index of the highest set bit, exact beyond 32 bits (Math.log2 alone can be off by one). */
function highestBit(value: number): number {
  let bit = Math.floor(Math.log2(value));
  while (2 ** bit > value) bit--;
  while (2 ** (bit + 1) <= value) bit++;
  return bit;
}

/** Cheap structural check for data read from another process's file. */
export function isHistogramData(value: unknown): value is HistogramData {
  if (typeof value !== 'object' || value === null) return false;
  const data = value as Partial<HistogramData>;
  return (
    data.scheme === HISTOGRAM_SCHEME &&
    isCount(data.count) &&
    isFiniteNumber(data.sum) &&
    isFiniteNumber(data.min) &&
    isFiniteNumber(data.max) &&
    Array.isArray(data.buckets) &&
    // Steps and counts, all whole numbers; forEachStoredBucket places only the well-formed prefix.
    data.buckets.every(isCount)
  );
}

function isFiniteNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
