/**
 * Restricted Mode: the launcher runs this suite with workspace trust enabled (AGENT_POOL_TEST_TRUST=restricted),
 * so the opened folder is untrusted. The window must still take part in the registry and show other windows,
 * but start no agent process, whatever the user asks, and say why in the status bar.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, startSecondWindow, waitUntil } from '../integration/helpers';
import { renderedPageText, takeScreenshot } from '../integration/screenshots';

/** Processes running dist/demo-agent.js that descend from this extension host, read from /proc. */
function demoAgentsOfThisHost(): Array<{ pid: number; cmdline: string }> {
  const parentOf = new Map<number, number>();
  const cmdlineOf = new Map<number, string>();
  for (const entry of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may contain spaces, hence lastIndexOf.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      cmdlineOf.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').join(' '));
    } catch {
      // the process ended while we looked
    }
  }
  const descendsFromHost = (pid: number): boolean => {
    for (let current = parentOf.get(pid), hops = 0; current !== undefined && hops < 64; current = parentOf.get(current), hops++) {
      if (current === process.pid) return true;
    }
    return false;
  };
  return [...cmdlineOf]
    .filter(([pid, cmdline]) => cmdline.includes('demo-agent.js') && descendsFromHost(pid))
    .map(([pid, cmdline]) => ({ pid, cmdline }));
}

describe('Agent Pool in Restricted Mode (untrusted folder)', function () {
  this.timeout(90_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
  });

  it('the folder really is untrusted', () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the launcher did not open the folder untrusted: check AGENT_POOL_TEST_TRUST');
  });

  it('the Agents view says what Restricted Mode means and offers Manage Workspace Trust', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
    await waitUntil(api, () => api.testing.service.selfId !== undefined, 'registration');
    // An empty tree is what makes VS Code show the view's welcome content.
    await waitUntil(api, () => (api.testing.treeRoots() as unknown[]).length === 0, 'an empty tree (the welcome)');
    const shown = await renderedPageText('.welcome-view-content', 'Restricted Mode');
    if (shown !== undefined) assert.match(shown, /Manage Workspace Trust/);
    await takeScreenshot('welcome-restricted');
  });

  it('the window still registers and shows the other windows', async () => {
    const service = api.testing.service;
    await waitUntil(api, () => service.selfId !== undefined, 'registration');
    assert.ok(existsSync(join(service.directory, 'instances', `${service.selfId}.json`)), 'no registry record for this window');
    const extensionPath = vscode.extensions.getExtension('agent-pool.agent-pool')!.extensionPath;
    const second = await startSecondWindow(service.directory, 1, extensionPath);
    try {
      // "<here>/<all> (<windows>)": none here, the second window's agent, two windows.
      await waitUntil(api, () => /0\/1 \(2\)$/.test(api.testing.statusText()), 'the status bar to show the second window and its agent');
      await waitUntil(api, () => JSON.stringify(api.testing.treeRoots()).includes('second-window'), 'the tree to list the second window');
      // With other windows the tree is shown, and its own row says why this window runs no agent.
      assert.match(JSON.stringify(api.testing.treeRoots()), /"description":"Restricted Mode"/);
      assert.match(JSON.stringify(api.testing.treeRoots()), /"command":\{"id":"workbench.trust.manage"/);
      await takeScreenshot('restricted-tree');
    } catch (error) {
      throw new Error(`${(error as Error).message}; the status bar shows "${api.testing.statusText()}"`);
    } finally {
      await second.stop();
    }
  });

  it('starts no agent process, whatever the user asks', async () => {
    await vscode.commands.executeCommand('agentPool.selectProfile', 'demo');
    await vscode.commands.executeCommand('agentPool.startPool', 'demo');
    const outcome = await vscode.commands.executeCommand('agentPool.runPrompt', { profile: 'demo', prompt: 'hi', show: false });
    assert.equal(outcome, undefined, `a prompt ran in Restricted Mode: ${JSON.stringify(outcome)}`);
    // Other extensions get the same answer through the API.
    await assert.rejects(api.launch('demo', { agents: 2 }), /Restricted Mode/);
    await assert.rejects(api.run('hi', { profile: 'demo' }), /Restricted Mode/);
    await assert.rejects(api.acquire({ profile: 'demo' }), /Restricted Mode/);
    const pools = api.testing.service.pools();
    assert.deepEqual(
      pools.flatMap((p) => p.agents),
      [],
      `agents exist in Restricted Mode: ${JSON.stringify(pools)}`,
    );
    assert.deepEqual(demoAgentsOfThisHost(), [], 'demo-agent.js processes were spawned by this extension host');
  });

  it('the status bar says why no agent starts', async () => {
    await waitUntil(api, () => api.testing.statusView()?.background === 'error', 'the error background');
    assert.match(api.testing.statusView()!.tooltip, /Restricted Mode/);
    await takeScreenshot('restricted-mode', { hover: '[id*="agentPool.status"]' });
  });
});
