import assert from 'node:assert/strict';
import { stopReasonText, TurnRenderer } from '../../../src/vscode/chat/chatParts';

describe('chat parts of an agent turn', () => {
  it('shows steps before the answer as progress and after it as quiet lines, never folding the answer', () => {
    const renderer = new TurnRenderer();
    assert.deepEqual(renderer.render({ kind: 'tool-call', text: 'Read demo.txt' }), [{ kind: 'progress', text: 'Read demo.txt' }]);
    assert.deepEqual(renderer.render({ kind: 'text', text: 'Hello' }), [{ kind: 'markdown', text: 'Hello' }]);
    const later = renderer.render({ kind: 'tool-call', text: 'Edit a.ts' });
    assert.equal(later.length, 1);
    assert.equal(later[0].kind, 'markdown', 'a progress call mid-answer would fold the text before it');
    assert.match(later[0].text, /Edit a\.ts/);
  });

  it('quotes thoughts and joins their chunks', () => {
    const renderer = new TurnRenderer();
    assert.deepEqual(renderer.render({ kind: 'thought', text: 'let me' }), [{ kind: 'progress', text: 'Thinking…' }, { kind: 'markdown', text: '> let me' }]);
    assert.deepEqual(renderer.render({ kind: 'thought', text: ' see\nmore' }), [{ kind: 'markdown', text: ' see\n> more' }]);
    assert.deepEqual(renderer.render({ kind: 'text', text: 'Answer' }), [{ kind: 'markdown', text: '\n\nAnswer' }]);
  });

  it('renders an ACP plan as a checklist that stays in view', () => {
    const renderer = new TurnRenderer();
    const [part] = renderer.render({ kind: 'plan', raw: { entries: [{ content: 'Read *it*', status: 'completed' }, { content: 'Write', status: 'pending' }] } });
    assert.equal(part.kind, 'markdown');
    assert.match(part.text, /\*\*Plan\*\*/);
    assert.match(part.text, /\$\(pass-filled\) Read \\\*it\\\*/);
    assert.match(part.text, /\$\(circle-large-outline\) Write/);
    assert.equal(renderer.render({ kind: 'tool-call', text: 'Run' })[0].kind, 'markdown', 'a step after the plan would fold it');
  });

  it('says stop reasons in words and nothing for a normal end', () => {
    assert.equal(stopReasonText('end_turn'), undefined);
    assert.match(stopReasonText('max_tokens')!, /output limit/);
    assert.equal(stopReasonText('cancelled'), 'Cancelled.');
  });
});
