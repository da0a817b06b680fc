/**
 * Conversations as a person meets them in VS Code: a row in the Agents view with its context use
 * ("15k/200k"), the figures in the status bar tooltip and Show Metrics, a note in the chat thread
 * when the earlier context is gone (and a mark on the row), and Close Conversation ending it.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import type { AgentChatMetadata } from '../../src/vscode/chat/chatParticipant';
import { activeExtension, waitUntil } from './helpers';
import { renderedPageText, renderedWebviewText, takeScreenshot } from './screenshots';

interface Row {
  id: string;
  label: string;
  description?: string;
  contextValue?: string;
  conversationKey?: string;
  children?: Row[];
}

function rows(api: ExtensionExports): Row[] {
  const all: Row[] = [];
  const visit = (list: Row[]) => list.forEach((row) => (all.push(row), row.children && visit(row.children)));
  visit(api.testing.treeRoots() as Row[]);
  return all;
}

function conversationRow(api: ExtensionExports, key: string): Row | undefined {
  return rows(api).find((row) => row.id === `conversation/${key}`);
}

async function ask(query: string): Promise<AgentChatMetadata> {
  const result = (await vscode.commands.executeCommand('workbench.action.chat.open', {
    query,
    isPartialQuery: false,
    blockOnResponse: true,
    modelSelector: { vendor: 'agent-pool' },
  })) as { metadata?: AgentChatMetadata; errorDetails?: { message: string } } | undefined;
  assert.ok(result?.metadata, `no answer for "${query}": ${JSON.stringify(result)}`);
  return result.metadata;
}

function liveAgents(api: ExtensionExports, profile: string): string[] {
  return (api.metrics().pools.find((p) => p.profile === profile)?.agents ?? []).filter((a) => a.state === 'idle' || a.state === 'busy').map((a) => a.id);
}

describe('Conversations in VS Code', function () {
  this.timeout(120_000);
  let api: ExtensionExports;
  let extensionPath: string;

  before(async () => {
    api = await activeExtension();
    extensionPath = vscode.extensions.getExtension('agent-pool.agent-pool')!.extensionPath;
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => liveAgents(api, 'demo').length >= 1, 'a warm demo agent');
    await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar');
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
  });

  it('shows a conversation with its context use in the tree, the status bar tooltip and Show Metrics, and Close Conversation ends it', async () => {
    const key = 'it-context-use';
    for (const word of ['alpha', 'beta', 'gamma']) {
      const outcome = (await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', sessionKey: key, prompt: `/demo usage=0.01\n${word}`, show: false })) as { error?: string };
      assert.equal(outcome.error, undefined);
    }
    // The demo agent adds 5k context tokens a turn against a 200k window, and reports its cost as a running total.
    await waitUntil(api, () => conversationRow(api, key)?.description === '15k/200k', 'the conversation row to show "15k/200k"').catch((error) => {
      throw new Error(`${(error as Error).message}; the row is ${JSON.stringify(conversationRow(api, key))}`);
    });
    await waitUntil(api, () => /15k\/200k \(7\.5%\) in 1 conversation/.test(api.testing.statusView()?.tooltip ?? ''), 'the status bar tooltip to show the context use').catch((error) => {
      throw new Error(`${(error as Error).message}; the tooltip is ${api.testing.statusView()?.tooltip}`);
    });
    assert.match(api.testing.statusView()!.tooltip, /\(this window\) \| [\d.]+k? \| \$0\.0300 \|/, 'the cost is not the last running total (3 × 0.01)');
    await takeScreenshot('tree-conversation');

    await vscode.commands.executeCommand('agentPool.showMetrics');
    assert.match(api.testing.metricsHtml() ?? '', /<h2>Conversations<\/h2>[\s\S]*it-context-use[\s\S]*15k\/200k \(7\.5%\)[\s\S]*\$0\.0300/);
    const rendered = await renderedWebviewText('Conversations');
    if (rendered !== undefined) assert.match(rendered, /it-context-use/);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

    // The row's own context-menu command, with the row as its argument.
    const row = conversationRow(api, key)!;
    assert.equal(row.contextValue, 'conversation');
    const closed = await vscode.commands.executeCommand('agentPool.closeConversation', row);
    assert.equal(closed, true);
    assert.equal(await api.testing.service.conversations.get(key), undefined, 'the conversation record is still there');
    await waitUntil(api, () => conversationRow(api, key) === undefined, 'the closed conversation to leave the tree');
  });

  it('says in the chat thread, and marks in the tree, that a conversation lost its earlier context', async () => {
    const configuration = vscode.workspace.getConfiguration('agentPool');
    // An agent that can neither resume nor load a session: its conversations cannot outlive its process.
    await configuration.update(
      'profiles',
      { forgetful: { adapter: 'acp', command: process.execPath, args: [join(extensionPath, 'dist', 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1', DEMO_AGENT_SESSION_SUPPORT: 'none' } } },
      vscode.ConfigurationTarget.Global,
    );
    try {
      await vscode.commands.executeCommand('workbench.action.chat.newChat');
      const first = await ask('@agents /profile forgetful remember the word alpha');
      assert.equal(first.outcome, 'answered', first.error);
      await vscode.commands.executeCommand('agentPool.stopAgent', first.agentId);
      await waitUntil(api, () => liveAgents(api, 'forgetful').some((id) => id !== first.agentId), 'a new forgetful agent in the stopped one\'s place');
      const second = await ask('@agents what was the word?');
      assert.equal(second.conversation, first.conversation);
      assert.equal(second.continuity, 'context-lost');
      const shown = await renderedPageText('.interactive-response', 'The earlier context of this conversation is gone');
      if (shown !== undefined) assert.match(shown, /new session that does not know what was said before/);
      await waitUntil(api, () => conversationRow(api, first.conversation)?.description?.startsWith('context lost') === true, 'the row to be marked "context lost"');
      const row = conversationRow(api, first.conversation)!;
      assert.equal(row.label, 'remember the word alpha', 'the row is not titled after the thread\'s first prompt');
      assert.equal(row.contextValue, 'conversation.lost');
      await takeScreenshot('chat-context-lost', { settleMs: 1000 });
      await vscode.commands.executeCommand('agentPool.closeConversation', first.conversation);
    } finally {
      await vscode.commands.executeCommand('agentPool.stopPool', 'forgetful');
      await configuration.update('profiles', undefined, vscode.ConfigurationTarget.Global);
    }
  });

  it('says in the chat thread that a conversation was resumed on another agent, with its context', async () => {
    await vscode.commands.executeCommand('workbench.action.chat.newChat');
    const first = await ask('@agents /demo remember the word alpha');
    assert.equal(first.outcome, 'answered', first.error);
    await vscode.commands.executeCommand('agentPool.stopAgent', first.agentId);
    await waitUntil(api, () => liveAgents(api, 'demo').some((id) => id !== first.agentId), 'a new demo agent in the stopped one\'s place');
    const second = await ask('@agents /demo /demo recall');
    assert.equal(second.conversation, first.conversation);
    assert.equal(second.continuity, 'resumed');
    assert.notEqual(second.agentId, first.agentId);
    assert.equal(second.sessionId, first.sessionId, 'the resumed conversation is in another session');
    const shown = await renderedPageText('.interactive-response', 'This conversation continues on');
    if (shown !== undefined) assert.match(shown, new RegExp(`continues on ${second.agentId}: the agent that held it had gone, so its session was resumed there with the earlier context[\\s\\S]*remember the word alpha`));
    await vscode.commands.executeCommand('agentPool.closeConversation', first.conversation);
  });
});
