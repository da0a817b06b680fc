/**
 * A conversation survives a window reload. A reload ends the extension host that runs the tests, so
 * this suite runs twice in one window: phase 1 runs a turn of a conversation, notes what it saw in a
 * file of the workspace folder (which outlives the host) and reloads the window; the reloaded window
 * runs the suite again, finds the note, and is phase 2: it continues the conversation, and the demo
 * agent's `recall` answers with the turn phase 1 sent, from a new agent process.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, report, waitUntil } from '../integration/helpers';
import { takeScreenshot } from '../integration/screenshots';

const KEY = 'survives-a-reload';

interface PhaseOneNote {
  agentPid: number;
  sessionId: string;
  reloadedAt: number;
}

function noteFile(): string {
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
  assert.ok(folder, 'the reload suite needs a folder open');
  return join(folder, '.agent-pool-reload-phase-1.json');
}

function conversationRow(api: ExtensionExports): { description?: string } | undefined {
  const roots = api.testing.treeRoots() as Array<{ id: string; children?: Array<{ id: string; description?: string }> }>;
  return roots.find((node) => node.id === 'section/conversations')?.children?.find((row) => row.id === `conversation/${KEY}`);
}

function liveDemoAgents(api: ExtensionExports) {
  return (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).filter((a) => a.state === 'idle' || a.state === 'busy');
}

describe('A conversation across a window reload', function () {
  this.timeout(120_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
  });

  it('continues after the reload, on a new agent process, with the earlier turn recalled', async () => {
    if (!existsSync(noteFile())) {
      // Phase 1.
      await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
      await waitUntil(api, () => liveDemoAgents(api).length >= 1, 'a warm demo agent');
      const outcome = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', sessionKey: KEY, prompt: '/demo usage=0.01\nalpha', show: false })) as {
        error?: string;
        agentId?: string;
      };
      assert.equal(outcome.error, undefined);
      const record = await api.testing.service.conversations.get(KEY);
      assert.ok(record?.sessionId, 'the conversation was not recorded');
      const agentPid = liveDemoAgents(api).find((a) => a.id === outcome.agentId)?.pid;
      assert.ok(agentPid);
      const note: PhaseOneNote = { agentPid, sessionId: record.sessionId, reloadedAt: Date.now() };
      writeFileSync(noteFile(), JSON.stringify(note));
      report(`phase 1: conversation "${KEY}" in session ${note.sessionId} on pid ${agentPid}; reloading the window`);
      // While the window reloads, other extensions of this dying host throw ("Channel has been closed" from
      // the JSON language client): noise of the reload, not a failure of this phase.
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', (error) => report(`phase 1, during the reload: ${error.message}`));
      // Not awaited: the command's promise is dropped (rejected as cancelled) when the reload ends this host.
      void vscode.commands.executeCommand('workbench.action.reloadWindow').then(undefined, () => undefined);
      // The reload ends this host; if it does not, the window did not reload.
      await new Promise((resolve) => setTimeout(resolve, 90_000));
      assert.fail('the window did not reload within 90 s');
    }

    // Phase 2: the reloaded window.
    const note = JSON.parse(readFileSync(noteFile(), 'utf8')) as PhaseOneNote;
    rmSync(noteFile());
    report(`phase 2: the window came back ${Date.now() - note.reloadedAt} ms after the reload was asked for`);
    await waitUntil(api, () => liveDemoAgents(api).length >= 1, 'the demo pool to be started again after the reload', 30_000);
    // Before any turn here, the row shows what the record says.
    await waitUntil(api, () => conversationRow(api)?.description === '5k/200k', 'the tree to show the recorded conversation with its context use').catch((error) => {
      throw new Error(`${(error as Error).message}; the tree shows ${JSON.stringify(api.testing.treeRoots())}`);
    });
    const outcome = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', sessionKey: KEY, prompt: '/demo recall', show: false })) as {
      text: string;
      agentId?: string;
      error?: string;
    };
    assert.equal(outcome.error, undefined);
    assert.match(outcome.text, /alpha/, 'the answer does not recall the turn before the reload: the context was lost');
    const agent = liveDemoAgents(api).find((a) => a.id === outcome.agentId);
    assert.ok(agent?.pid && agent.pid !== note.agentPid, 'phase 2 ran on the agent process of phase 1, which a reload must have ended');
    const record = await api.testing.service.conversations.get(KEY);
    assert.equal(record?.sessionId, note.sessionId, 'the conversation went on in another session');
    assert.equal(record?.contextLost, 0);
    assert.equal(record?.turns, 2);
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
    await takeScreenshot('reload-conversation-continued');
  });
});
