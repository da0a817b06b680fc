import assert from 'node:assert/strict';
import { Histogram, HISTOGRAM_SCHEME, bucketBounds, bucketKeyOf, forEachStoredBucket, type HistogramData } from '../../../src/core/metrics/histogram';
import { latencySamples, referenceQuantile, seededRandom } from '../../fixtures/metrics/samples';

/** Half a bucket (< 0.4 %) plus the microsecond quantization. */
function assertWithinBucketError(actual: number, expected: number, label: string): void {
  const allowed = expected * (1 / 256) + 0.001;
  assert.ok(Math.abs(actual - expected) <= allowed, `${label}: ${actual} vs reference ${expected} (allowed ±${allowed})`);
}

describe('Histogram', () => {
  it('puts every value in a bucket that contains it, never wider than 1/128 of its lower bound', () => {
    const random = seededRandom(7);
    let previousKey = -1;
    for (const micros of [0, 1, 255, 256, 257, 511, 512, 1000, 65_535, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 12_345]) {
      const key = bucketKeyOf(micros / 1000);
      const { lowerMicros, upperMicros } = bucketBounds(key);
      assert.ok(lowerMicros <= micros && micros < upperMicros, `${micros} in [${lowerMicros}, ${upperMicros})`);
      assert.ok(key >= previousKey, 'keys never shrink as values grow');
      previousKey = key;
      if (micros >= 256) assert.ok((upperMicros - lowerMicros) / lowerMicros <= 1 / 128);
    }
    for (let i = 0; i < 10_000; i++) {
      const micros = Math.floor(random() * 2 ** 36);
      const { lowerMicros, upperMicros } = bucketBounds(bucketKeyOf(micros / 1000));
      assert.ok(lowerMicros <= micros && micros < upperMicros, `${micros}`);
    }
  });

  it('merges windows exactly: percentiles of the merge match the raw samples of all of them', () => {
    const perWindow = [
      latencySamples(3000, 1, 40),
      latencySamples(500, 2, 900),
      latencySamples(1200, 3, 5000),
      latencySamples(7, 4, 120_000),
      [],
    ];
    const stored: HistogramData[] = perWindow.map((samples) => {
      const histogram = new Histogram();
      for (const sample of samples) histogram.record(sample);
      return JSON.parse(JSON.stringify(histogram.toData())) as HistogramData;
    });
    const merged = Histogram.merge(stored);
    const all = perWindow.flat();
    assert.equal(merged.count, all.length);
    for (const q of [0.5, 0.95, 0.99]) {
      assertWithinBucketError(merged.quantile(q), referenceQuantile(all, q), `p${q * 100}`);
    }
    const summary = merged.summary();
    assert.equal(summary.min, Math.min(...all));
    assert.equal(summary.max, Math.max(...all));
    assert.ok(Math.abs(summary.avg - all.reduce((a, b) => a + b, 0) / all.length) < 1e-6);

    // The merge is the histogram of all samples, whatever the order of merging.
    const direct = new Histogram();
    for (const sample of all) direct.record(sample);
    assert.deepEqual(Histogram.merge([...stored].reverse()).toData().buckets, direct.toData().buckets);

    // Averaging the windows' p95s (what must never be done) is far off here; merging is not.
    const averaged = stored.filter((d) => d.count > 0).map((d) => Histogram.fromData(d).quantile(0.95));
    const average = averaged.reduce((a, b) => a + b, 0) / averaged.length;
    assert.ok(Math.abs(average - referenceQuantile(all, 0.95)) > 1000);
  });

  it('stores only the buckets that hold samples, and restores them losslessly', () => {
    const histogram = new Histogram();
    histogram.record(12.5, 3);
    histogram.record(4000);
    const data = histogram.toData();
    assert.equal(data.scheme, HISTOGRAM_SCHEME);
    // Delta-encoded and flat: [first key, count, key step, count].
    assert.deepEqual(data.buckets, [bucketKeyOf(12.5), 3, bucketKeyOf(4000) - bucketKeyOf(12.5), 1]);
    assert.deepEqual(Histogram.fromData(data).toData(), data);
    assert.ok(Math.abs(histogram.summary().p50 - 12.5) <= 12.5 / 256);
    assert.equal(histogram.quantile(1), 4000);
  });

  it('stops decoding stored buckets at the first step it cannot place', () => {
    const data: HistogramData = { scheme: HISTOGRAM_SCHEME, count: 3, sum: 3, min: 1, max: 1, buckets: [1000, 1, 0, 1, 5, 1] };
    const keys: number[] = [];
    forEachStoredBucket(data, (key) => keys.push(key));
    assert.deepEqual(keys, [1000], 'a zero step would put two counts in one key; nothing after it is trusted');
  });

  it('ignores values that are not durations and refuses another bucket scheme', () => {
    const histogram = new Histogram();
    for (const bad of [-1, Number.NaN, Infinity]) histogram.record(bad);
    assert.equal(histogram.count, 0);
    assert.deepEqual(histogram.summary(), { count: 0, min: 0, max: 0, avg: 0, p50: 0, p95: 0, p99: 0 });
    const foreign = { ...histogram.toData(), scheme: 'hdr-3' } as unknown as HistogramData;
    assert.throws(() => histogram.mergeData(foreign), /scheme "hdr-3"/);
  });

  it('counts samples at or below a bound, whole buckets only', () => {
    const histogram = new Histogram();
    for (const ms of [1, 5, 9.9, 10.5, 250, 1000]) histogram.record(ms);
    assert.equal(histogram.countAtOrBelow(0.5), 0);
    assert.equal(histogram.countAtOrBelow(10), 3);
    assert.equal(histogram.countAtOrBelow(1100), 6);
    // 9.99 ms and 10 ms share the bucket [9.984, 10.048) ms, which reaches past 10 ms: it counts
    // towards the next bound, an error bounded by one bucket (< 0.8 %).
    histogram.record(9.99);
    assert.equal(histogram.countAtOrBelow(10), 3);
    assert.equal(histogram.countAtOrBelow(10.1), 4);
  });
});
