/**
 * What a person sees when something is wrong: a pool whose program is missing is shown as failed,
 * with Retry, Stop Pool and Open Settings on its row, and its error is logged once; Stop Agent
 * says that a new agent takes the stopped one's place.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, waitUntil } from './helpers';
import { renderedPageText, takeScreenshot } from './screenshots';

interface Row {
  id: string;
  description?: string;
  contextValue?: string;
  children?: Row[];
}

function row(api: ExtensionExports, id: string): Row | undefined {
  const visit = (rows: Row[]): Row | undefined => {
    for (const candidate of rows) {
      if (candidate.id === id) return candidate;
      const inner = candidate.children && visit(candidate.children);
      if (inner) return inner;
    }
    return undefined;
  };
  return visit(api.testing.treeRoots() as Row[]);
}

function idleDemoAgents(api: ExtensionExports): string[] {
  return (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).filter((a) => a.state === 'idle').map((a) => a.id);
}

describe('Failure states', function () {
  this.timeout(120_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await waitUntil(api, () => idleDemoAgents(api).length >= 1, 'a warm demo agent');
    await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar');
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
  });

  it('a pool whose program is missing shows as not installed, with Retry, Stop Pool and Open Settings', async () => {
    const configuration = vscode.workspace.getConfiguration('agentPool');
    await configuration.update('profiles', { missing: { adapter: 'acp', command: '/nonexistent/agent-pool-missing-agent' } }, vscode.ConfigurationTarget.Global);
    try {
      await vscode.commands.executeCommand('agentPool.startPool', 'missing');
      await waitUntil(api, () => row(api, 'pool/missing')?.description === 'not installed', 'the pool row to say "not installed"');
      assert.equal(row(api, 'pool/missing')?.contextValue, 'pool.failed', 'the failed pool has no failure menus');
      const toast = await renderedPageText('.monaco-workbench', 'was not found');
      if (toast !== undefined) assert.doesNotMatch(toast, /Agent profile "missing"[^\n]*Agent profile "missing"/, 'the error names the profile twice');
      await takeScreenshot('failed-pool', { hover: '.monaco-list-row[aria-label*="missing"]' });

      const errorsBefore = api.testing.logLines().filter((line) => line.startsWith('error') && line.includes('was not found')).length;
      assert.equal(errorsBefore, 1, `the start failure was logged ${errorsBefore} times: ${api.testing.logLines().join('\n')}`);
      await vscode.commands.executeCommand('agentPool.retryPool', 'missing');
      await waitUntil(api, () => row(api, 'pool/missing')?.description === 'not installed', 'the retried pool to fail again');
      const errorsAfter = api.testing.logLines().filter((line) => line.startsWith('error') && line.includes('was not found')).length;
      assert.equal(errorsAfter, 1, 'a retry of the same fault logged the error again');

      await vscode.commands.executeCommand('agentPool.openProfileSettings', 'missing');
      await waitUntil(api, () => vscode.window.tabGroups.activeTabGroup.activeTab?.label === 'Settings', 'the Settings editor');
      await vscode.commands.executeCommand('workbench.action.closeActiveEditor');

      await vscode.commands.executeCommand('agentPool.stopPool', 'missing');
      await waitUntil(api, () => row(api, 'pool/missing') === undefined, 'the stopped pool to leave the tree');
    } finally {
      await vscode.commands.executeCommand('agentPool.stopPool', 'missing');
      await configuration.update('profiles', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('notifications.clearAll');
    }
  });

  it('Stop Agent says a new agent replaces the stopped one', async () => {
    // One warm agent (earlier tests scaled the pool): stopping it leaves the pool below its minimum of 1.
    const live = () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).filter((a) => a.state !== 'stopped');
    await vscode.commands.executeCommand('agentPool.scalePool', 'demo', { minAgents: 1, maxAgents: 1 });
    await waitUntil(api, () => live().length === 1 && live()[0].state === 'idle', 'exactly one idle demo agent');
    await vscode.commands.executeCommand('notifications.clearAll');
    const [victim] = idleDemoAgents(api);
    assert.ok(victim, 'no idle demo agent');
    await vscode.commands.executeCommand('agentPool.stopAgent', victim);
    const toast = await renderedPageText('.monaco-workbench', `stopped ${victim}`);
    if (toast !== undefined) assert.match(toast, /A new agent replaces it to keep the pool's minimum of 1 warm agent/);
    await waitUntil(api, () => idleDemoAgents(api).some((id) => id !== victim), 'the replacement agent');
    await takeScreenshot('stop-agent-replaced');
    await vscode.commands.executeCommand('notifications.clearAll');
    await vscode.commands.executeCommand('agentPool.scalePool', 'demo', { minAgents: 1, maxAgents: 4 });
  });
});
