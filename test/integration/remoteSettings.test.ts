/**
 * A browser or remote window (this host is both) ignores machine-scoped settings written in User
 * settings: VS Code greys them out, and Agent Pool would silently miss the profile. It says so, naming
 * the setting and Remote settings, and its "Copy to Remote Settings" button makes the profile apply.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionExports } from '../../src/extension';
import { activeExtension, waitUntil } from './helpers';
import { renderedPageText, takeScreenshot } from './screenshots';

describe('Profiles written in User settings of a remote or browser window', function () {
  this.timeout(60_000);
  let api: ExtensionExports;

  before(async () => {
    api = await activeExtension();
  });

  it('are named in a message pointing to Remote settings, and Copy to Remote Settings makes them apply', async () => {
    const file = vscode.Uri.parse(api.testing.userSettingsFile);
    const before = await vscode.workspace.fs.readFile(file).then((bytes) => new TextDecoder().decode(bytes), () => '{}');
    const extensionPath = vscode.extensions.getExtension('agent-pool.agent-pool')!.extensionPath;
    const profile = { adapter: 'acp', command: process.execPath, args: [join(extensionPath, 'dist', 'demo-agent.js')], env: { ELECTRON_RUN_AS_NODE: '1' } };
    const written = { ...JSON.parse(before.trim() ? before : '{}'), 'agentPool.profiles': { 'written-locally': profile } };
    // As a person does it: in the User settings file, with a comment.
    await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(`// mine\n${JSON.stringify(written, null, 2)}\n`));
    try {
      assert.ok(!('written-locally' in api.testing.service.profiles()), 'this host applied a machine setting from User settings: the test proves nothing here');
      // Seen when the file changes (VS Code reports no configuration change for a setting it ignores).
      await waitUntil(api, () => api.testing.ignoredUserSettings().includes('agentPool.profiles'), 'Agent Pool to notice agentPool.profiles in User settings', 20_000);
      const toast = await renderedPageText('.monaco-workbench', 'written in your User settings');
      if (toast !== undefined) assert.match(toast, /agentPool\.profiles is written in your User settings[\s\S]*Remote settings/);
      await takeScreenshot('remote-settings-ignored');
      const copied = await vscode.commands.executeCommand('agentPool.copyUserSettingsToRemote');
      assert.deepEqual(copied, ['agentPool.profiles']);
      await waitUntil(api, () => 'written-locally' in api.testing.service.profiles(), 'the copied profile to apply in this window');
    } finally {
      await vscode.workspace.fs.writeFile(file, new TextEncoder().encode(before));
      await vscode.workspace.getConfiguration('agentPool').update('profiles', undefined, vscode.ConfigurationTarget.Global);
      await vscode.commands.executeCommand('notifications.clearAll');
    }
  });
});
