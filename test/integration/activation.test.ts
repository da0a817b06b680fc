import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { takeScreenshot } from './screenshots';

const EXTENSION_ID = 'agent-pool.agent-pool';

describe('Agent Pool in a real extension host', () => {
  it('activates', async () => {
    const extension = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(extension, `extension ${EXTENSION_ID} is not installed in the host`);
    await extension.activate();
    assert.equal(extension.isActive, true);
  });

  it('registers every command the manifest contributes', async () => {
    const manifest = vscode.extensions.getExtension(EXTENSION_ID)!.packageJSON as {
      contributes: { commands: Array<{ command: string; category: string }> };
    };
    const registered = new Set(await vscode.commands.getCommands(true));
    for (const { command, category } of manifest.contributes.commands) {
      assert.equal(category, 'Agent Pool', `${command} has category ${category}`);
      assert.ok(registered.has(command), `${command} is contributed but not registered`);
    }
  });

  it('shows the Agent Pool view', async () => {
    await vscode.commands.executeCommand('workbench.view.extension.agentPool');
    await takeScreenshot('welcome-no-profile');
  });
});
