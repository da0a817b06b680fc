/**
 * The tree stays still while nothing it shows changes: five other windows heartbeating twice a
 * second each redraw no row, so a tooltip a person is reading stays open.
 */
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, report, startSecondWindow, waitUntil, type SecondWindow } from './helpers';
import { takeScreenshot } from './screenshots';

const QUIET_MS = 10_000;

function otherWindowRows(api: ExtensionExports): number {
  const roots = api.testing.treeRoots() as Array<{ id: string; children?: unknown[] }>;
  return roots.find((node) => node.id === 'section/other-windows')?.children?.length ?? 0;
}

describe('The Agents view', function () {
  this.timeout(120_000);
  let api: ExtensionExports;
  const windows: SecondWindow[] = [];

  before(async () => {
    api = await activeExtension();
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await vscode.commands.executeCommand('workbench.action.closeAuxiliaryBar');
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
  });

  after(async () => {
    await Promise.all(windows.map((window) => window.stop()));
  });

  it('redraws no row while five other windows only heartbeat', async () => {
    const extensionPath = vscode.extensions.getExtension('agent-pool.agent-pool')!.extensionPath;
    // Agents: 0, so the other windows only heartbeat (every 500 ms) and write snapshots.
    for (let i = 0; i < 5; i++) windows.push(await startSecondWindow(api.testing.service.directory, 0, extensionPath));
    await waitUntil(api, () => otherWindowRows(api) === 5, 'the tree to list the five other windows', 30_000).catch((error) => {
      throw new Error(`${(error as Error).message}; the tree shows ${JSON.stringify(api.testing.treeRoots())}; the registry has ${JSON.stringify(api.testing.service.instances().map((i) => [i.record.workspaceName, i.health, i.isSelf]))}`);
    });
    await waitUntil(api, () => (api.metrics().pools.find((p) => p.profile === 'demo')?.agents ?? []).some((a) => a.state === 'idle'), 'a warm demo agent');
    // Let the joins and earlier tests' scaling settle: wait for 3 s without a redrawn row.
    let lastCount = api.testing.treeRowsDrawn();
    let quietSince = Date.now();
    await waitUntil(
      api,
      () => {
        const count = api.testing.treeRowsDrawn();
        if (count !== lastCount) [lastCount, quietSince] = [count, Date.now()];
        return Date.now() - quietSince >= 3000;
      },
      'the view to settle (3 s without a redraw)',
      40_000,
    );
    // Heartbeats as this window saw them: the other windows' heartbeat counters in the registry.
    const beats = () => api.testing.service.instances().filter((i) => !i.isSelf).reduce((sum, i) => sum + i.record.heartbeatSeq, 0);
    const heartbeatsBefore = beats();
    const changesBefore = api.testing.serviceChanges();
    const drawnBefore = api.testing.treeRowsDrawn();
    await new Promise((resolve) => setTimeout(resolve, QUIET_MS));
    const drawn = api.testing.treeRowsDrawn() - drawnBefore;
    const heartbeats = beats() - heartbeatsBefore;
    const changes = api.testing.serviceChanges() - changesBefore;
    report(`tree: ${drawn} rows redrawn in ${QUIET_MS / 1000} s (${Math.round((drawn * 60_000) / QUIET_MS)} per minute) while 5 other windows heartbeat ${heartbeats} times; ${changes} change events reached the UI`);
    assert.ok(heartbeats >= 20, `only ${heartbeats} heartbeats of the other windows were seen: they are not heartbeating, so this proves nothing`);
    assert.equal(drawn, 0, `${drawn} rows were redrawn though nothing they show changed: ${api.testing.treeLastRowsDrawn().slice(-drawn).join('; ')}`);
    await takeScreenshot('tree-calm', { settleMs: 500 });
  });

  it('redraws only the row that changed when an agent works', async () => {
    const drawnBefore = api.testing.treeRowsDrawn();
    await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', prompt: 'one turn', show: false });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const drawn = api.testing.treeRowsDrawn() - drawnBefore;
    report(`tree: one prompt redrew ${drawn} rows`);
    assert.ok(drawn > 0, 'the agent that worked was not redrawn');
    assert.ok(drawn <= 8, `one prompt redrew ${drawn} rows`);
  });
});
