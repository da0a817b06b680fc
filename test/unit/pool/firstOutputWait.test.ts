import assert from 'node:assert/strict';
import { describeFirstOutputWait, FirstOutputWatch, type FirstOutputWait } from '../../../src/core/pool/firstOutputWait';
import { ManualClock } from './manualClock';

describe('waiting for the first output', () => {
  it('ticks every second from the start until the first event, then clears once', () => {
    const clock = new ManualClock();
    const seen: Array<string | undefined> = [];
    const watch = new FirstOutputWatch(clock, 'claude', (wait: FirstOutputWait | undefined) => seen.push(wait && describeFirstOutputWait(wait)));
    clock.advance(1000);
    clock.advance(1000);
    clock.advance(500);
    assert.deepEqual(seen, ["waiting for claude's first output · 0 s", "waiting for claude's first output · 1 s", "waiting for claude's first output · 2 s"]);
    const events: string[] = [];
    const onEvent = watch.wrap((event) => events.push(event.kind));
    onEvent({ kind: 'thought' });
    onEvent({ kind: 'text', text: 'x' });
    watch.dispose();
    assert.deepEqual(seen.slice(3), [undefined], 'cleared once, at the first event');
    assert.deepEqual(events, ['thought', 'text'], 'every event still reaches the caller');
    assert.deepEqual(clock.pendingDelays, [], 'no timer left');
  });
});
