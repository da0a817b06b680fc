/**
 * The launcher's own check: this suite fails on purpose, and scripts/test.mjs asserts that the
 * launcher then exits non-zero, so a failing integration test can never pass `npm test` unseen.
 */
import assert from 'node:assert/strict';

describe('launcher self-test', () => {
  it('passes', () => assert.ok(true));
  it('fails on purpose', () => assert.equal(1 + 1, 3));
});
