import assert from 'node:assert/strict';
import { ConversationCache } from '../../../src/vscode/conversationCache';
import { continuityNote } from '../../../src/vscode/continuityNote';
import { titleOf } from '../../../src/vscode/conversationTitles';
import type { ConversationView } from '../../../src/core/service/conversations';

describe('what transcripts say about a conversation', () => {
  it('notes a session that moved or lost its context, and nothing for one that went on', () => {
    assert.equal(continuityNote('kept', 'demo-1'), undefined);
    assert.equal(continuityNote('started', 'demo-1'), undefined);
    assert.match(continuityNote('resumed', 'demo-2')!, /continues on demo-2: .*resumed there with the earlier context/);
    assert.match(continuityNote('loaded', 'demo-2')!, /loaded there with the earlier context/);
    assert.match(continuityNote('context-lost', 'demo-2', 'the agent cannot resume sessions')!, /^\*\*The earlier context of this conversation is gone\*\*: the agent cannot resume sessions\. It continues on demo-2 in a new session/);
  });

  it('titles a conversation after the first line of text of its first prompt, directives skipped', () => {
    assert.equal(titleOf('/demo chunks=3\nfix the login bug\nand the tests'), 'fix the login bug');
    assert.equal(titleOf('x'.repeat(80)).length, 60);
    assert.equal(titleOf('   '), 'Untitled');
  });
});

describe('ConversationCache', () => {
  it('reads again after a change that came during a read, and reports only a list that changed', async () => {
    const lists: ConversationView[][] = [[], [{ key: 'a' } as ConversationView], [{ key: 'a' } as ConversationView]];
    let reads = 0;
    let changes = 0;
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const cache = new ConversationCache(
      async () => {
        const list = lists[reads++];
        if (reads === 1) await gate;
        return list;
      },
      () => changes++,
      (message) => assert.fail(message),
    );
    const first = cache.refresh();
    const second = cache.refresh();
    release();
    await Promise.all([first, second]);
    assert.equal(reads, 2, 'a change during a read was not read');
    assert.deepEqual(cache.current.map((c) => c.key), ['a']);
    await cache.refresh();
    assert.equal(reads, 3);
    assert.equal(changes, 1, 'an unchanged list was reported as a change');
  });
});
