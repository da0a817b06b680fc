import assert from 'node:assert/strict';
import { RESUME_GRACE_MS, setUnfrozenTimeout, unfrozenClock } from '../../../src/core/common/unfrozenClock';
import { ManualClock } from '../../fixtures/manualClock';

/** Holds the event loop the way SIGSTOP does, as far as this process can tell: no timer, no I/O runs. */
function freezeFor(ms: number): number {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
  return performance.now();
}

function firedAt(ms: number): { timer: ReturnType<typeof setUnfrozenTimeout>; fired: Promise<number> } {
  let timer!: ReturnType<typeof setUnfrozenTimeout>;
  const fired = new Promise<number>((resolve) => {
    timer = setUnfrozenTimeout(() => resolve(performance.now()), ms);
  });
  return { timer, fired };
}

describe('unfrozen time (deadlines that judge agents)', function () {
  this.timeout(10_000);

  it('fires on time when the process runs throughout', async () => {
    const start = performance.now();
    const { fired } = firedAt(200);
    const elapsed = (await fired) - start;
    assert.ok(elapsed >= 195, `fired after ${elapsed} ms`);
  });

  it('does not count a freeze against the deadline, and gives a grace after it', async () => {
    const { fired } = firedAt(300);
    // The deadline falls due during the freeze; a plain timer would fire the moment it ends.
    const resumedAt = freezeFor(1_500);
    const after = (await fired) - resumedAt;
    assert.ok(after >= RESUME_GRACE_MS - 100, `fired ${after.toFixed(0)} ms after the freeze ended`);
  });

  it('leaves the freeze out of monotonicNow, which never goes backwards', async () => {
    const before = unfrozenClock.monotonicNow();
    freezeFor(1_500);
    const after = unfrozenClock.monotonicNow();
    assert.ok(after >= before, 'monotonic');
    assert.ok(after - before < 600, `a 1500 ms freeze counted ${(after - before).toFixed(0)} ms`);
  });

  it('can be cancelled', async () => {
    let called = false;
    const timer = setUnfrozenTimeout(() => (called = true), 50);
    timer.cancel();
    await new Promise((resolve) => setTimeout(resolve, 150));
    assert.equal(called, false);
  });

  it('on an injected clock (the handshake and cancel graces): a freeze is left out, and a resume near the deadline gets the grace', () => {
    const clock = new ManualClock();
    const fired: number[] = [];
    setUnfrozenTimeout(() => fired.push(clock.monotonicNow()), 10_000, clock);
    clock.advance(3_000);
    clock.freeze(12_000);
    assert.deepEqual(fired, [], 'a plain 10 s timer fires at this resume');
    clock.advance(6_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [11_000], '10 s of unfrozen time after it was set');

    const late: number[] = [];
    setUnfrozenTimeout(() => late.push(clock.monotonicNow()), 10_000, clock);
    clock.advance(9_500);
    clock.freeze(30_000);
    clock.advance(RESUME_GRACE_MS - 1);
    assert.deepEqual(late, [], 'due 0.5 s after the resume, but judged only after the grace');
    clock.advance(1);
    assert.deepEqual(late, [11_000 + 9_500 + RESUME_GRACE_MS]);
  });
});
