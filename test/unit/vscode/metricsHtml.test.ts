import assert from 'node:assert/strict';
import { Histogram } from '../../../src/core/metrics/histogram';
import { binHistogram } from '../../../src/vscode/metricsHtml';

describe('binHistogram (the metrics view charts)', () => {
  it('puts every sample of merged histograms into exactly one coarse bin', () => {
    const a = new Histogram();
    const b = new Histogram();
    for (const ms of [0.5, 3, 3, 40, 150]) a.record(ms);
    for (const ms of [3.5, 900, 1500, 120_000]) b.record(ms);
    const bins = binHistogram([a.toData(), b.toData()]);
    const count = (label: string) => bins.find((bin) => bin.label === label)?.count;
    assert.equal(bins.reduce((n, bin) => n + bin.count, 0), 9);
    assert.equal(count('<1 ms'), 1);
    assert.equal(count('<5 ms'), 3);
    assert.equal(count('<50 ms'), 1);
    assert.equal(count('<200 ms'), 1);
    assert.equal(count('<1.00 s'), 1);
    assert.equal(count('<2.00 s'), 1);
    assert.equal(count('≥60.0 s'), 1);
  });
});
