import assert from 'node:assert/strict';
import type { InstanceView } from '../../../src/core/registry/types';
import { describePoolEvent, WindowWatcher } from '../../../src/core/service/activityLog';

function window(id: string, health: InstanceView['health'], isSelf = false): InstanceView {
  return {
    record: { schema: 1, id, pid: 7, processStartTime: '1', hostname: 'h', workspaceName: `ws-${id}`, workspaceFolders: [], extensionVersion: '0', startedAt: 0, lifecycle: 'ACTIVE', heartbeatSeq: 1, heartbeatAt: 0 },
    health,
    heartbeatAgeMs: 21_000,
    isSelf,
  };
}

describe('the activity log', () => {
  it('says when other windows join, stop answering, answer again and leave, and never mentions this window', () => {
    const watcher = new WindowWatcher();
    assert.deepEqual(watcher.update([window('me', 'live', true), window('a', 'live')]).map((l) => l.message), ['window "ws-a" (pid 7 on h) joined']);
    assert.deepEqual(watcher.update([window('me', 'live', true), window('a', 'live')]), [], 'a heartbeat is not news');
    assert.match(watcher.update([window('a', 'unresponsive')])[0].message, /"ws-a" .* is not responding: no heartbeat for 21 s/);
    assert.match(watcher.update([window('a', 'live')])[0].message, /responding again/);
    assert.deepEqual(watcher.update([]).map((l) => l.message), ['window "ws-a" (pid 7 on h) left']);
  });

  it('describes scaling, restarts and pauses in words, at info', () => {
    const at = () => '12:03';
    assert.deepEqual(describePoolEvent({ type: 'scale', profile: 'demo', direction: 'up', from: 1, to: 2, reason: 'queue' }, at), {
      level: 'info',
      message: 'pool demo: scaled up from 1 to 2 agents (queue)',
    });
    assert.match(describePoolEvent({ type: 'circuit', profile: 'demo', state: 'open', reason: 'x', retryAt: 1 }, at)!.message, /paused.*at 12:03/);
    assert.equal(describePoolEvent({ type: 'queue', profile: 'demo', depth: 1 }, at), undefined);
  });
});
