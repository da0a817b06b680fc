import assert from 'node:assert/strict';
import { parseJsonc } from '../../../src/vscode/jsonc';

describe('parseJsonc (reading a settings file)', () => {
  it('reads comments and trailing commas as VS Code does, and keeps // inside strings', () => {
    const text = `// mine
{
  /* block */ "agentPool.profiles": { "x": { "command": "https://example.invalid//path", }, },
  "editor.fontSize": 14, // trailing
}`;
    assert.deepEqual(parseJsonc(text), { 'agentPool.profiles': { x: { command: 'https://example.invalid//path' } }, 'editor.fontSize': 14 });
  });

  it('gives undefined for what is not an object', () => {
    assert.equal(parseJsonc('[1]'), undefined);
    assert.equal(parseJsonc('{ "a": '), undefined);
    assert.equal(parseJsonc(''), undefined);
  });
});
