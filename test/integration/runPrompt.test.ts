/**
 * Run Prompt for people without a Chat view: a prompt of several lines typed in an editor and sent
 * with its Send button; one rendered document per conversation, titled after its first prompt, each
 * turn appended; a progress notification that closes with the answer.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import type { RunPromptOutcome } from '../../src/vscode/runPrompt';
import { activeExtension, waitUntil } from './helpers';
import { renderedWebviewText, takeScreenshot } from './screenshots';


function promptEditor(): vscode.TextEditor | undefined {
  const editor = vscode.window.activeTextEditor;
  return editor?.document.uri.scheme === 'untitled' && editor.document.uri.path.endsWith('Agent Pool Prompt.md') ? editor : undefined;
}

describe('Run Prompt', function () {
  this.timeout(120_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).some((a) => a.state === 'idle'), 'a warm demo agent');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('sends a prompt of several lines from an editor, and appends each turn of a conversation to its one rendered document', async () => {
    const first = vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', sessionKey: 'it-run-prompt', editor: true }) as Thenable<RunPromptOutcome>;
    await waitUntil(api, () => promptEditor() !== undefined, 'the prompt editor to open');
    const editor = promptEditor()!;
    // The README's form: a directive line, then the text, over several lines.
    await editor.edit((edit) => edit.insert(new vscode.Position(0, 0), '/demo chunks=4 latency=3000\nrename the login handler\nand update its tests'));
    await takeScreenshot('run-prompt-editor', { settleMs: 500 });
    const sent = await vscode.commands.executeCommand('agentPool.sendPrompt');
    assert.equal(sent, true);
    await takeScreenshot('run-prompt-streaming', { settleMs: 1200 });
    const one = await first;
    assert.equal(one.error, undefined);
    assert.equal(one.stopReason, 'end_turn');
    assert.equal(one.answer, 'rename the login handler\nand update its tests', 'the agent did not get the prompt\'s lines');
    assert.equal(promptEditor(), undefined, 'the prompt editor stayed open after sending');
    assert.ok(!vscode.workspace.textDocuments.some((d) => d.uri.path.endsWith('Agent Pool Prompt.md') && !d.isClosed && d.isDirty), 'the sent prompt was left as a dirty editor');

    const two = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', sessionKey: 'it-run-prompt', prompt: '/demo chunks=2\nnow the second turn' })) as RunPromptOutcome;
    assert.equal(two.uri, one.uri, 'the second turn of the conversation opened another document');
    assert.match(two.text, /^# rename the login handler\n/, 'the document is not titled after the first prompt');
    assert.match(two.text, /> rename the login handler {2}\n> and update its tests[\s\S]*Answered · agent demo-\d+ \(demo\)[\s\S]*> now the second turn[\s\S]*now the second turn\n\n\*Answered · agent demo-\d+ \(demo\) · [\d.]+ (ms|s)/);
    assert.doesNotMatch(two.text, /end_turn|0\.00 s/, 'protocol words or a meaningless duration reach the user');
    // Rendered, as a person reads it: the heading is a heading, not "# …" with line numbers.
    const rendered = await renderedWebviewText('now the second turn');
    if (rendered !== undefined) {
      assert.match(rendered, /rename the login handler/);
      assert.doesNotMatch(rendered, /^# /m, 'the document is shown as raw Markdown');
    }
    await takeScreenshot('run-prompt-conversation', { settleMs: 800 });

    const other = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', prompt: 'a one-off prompt', show: false })) as RunPromptOutcome;
    assert.notEqual(other.uri, one.uri, 'a one-off prompt was appended to a conversation\'s document');
    await vscode.commands.executeCommand('agentPool.closeConversation', 'it-run-prompt');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
