import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import type { AgentPoolService } from '../core/service/agentPoolService';
import { CONFIG_SECTION } from './constants';
import { profileItems } from './profilePicker';

/**
 * Starts this window's pools: the default profile's and those of the last session laid under the
 * current settings (see AgentPoolService.startSavedPools). Does nothing in Restricted Mode or
 * without a profile (the welcome view then offers one). Failures are shown once, never retried in a loop.
 */
export async function startPools(service: AgentPoolService, log: vscode.LogOutputChannel): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    log.info('Restricted Mode: showing other windows only; no agent is started.');
    return;
  }
  try {
    const { started, notes } = await service.startSavedPools();
    for (const note of notes) log.warn(note);
    if (started.length) log.info(`started pool(s) for ${started.join(', ')} (saved state laid under the current settings)`);
  } catch (error) {
    const message = errorMessage(error);
    log.error(`starting pools: ${message}`);
    void vscode.window.showErrorMessage(`Agent Pool: ${message}`, 'Open Settings').then((choice) => {
      if (choice) void vscode.commands.executeCommand('workbench.action.openSettings', `${CONFIG_SECTION}.profiles`);
    });
  }
}

/** Sets agentPool.defaultProfile (user settings: a workspace may not choose programs) and starts its pool. */
export async function selectProfile(service: AgentPoolService, name?: string): Promise<string | undefined> {
  const chosen =
    name ??
    (await vscode.window.showQuickPick(profileItems(service), { title: 'Agent Pool: Choose the default agent profile' }))?.name;
  if (!chosen) return undefined;
  service.profile(chosen);
  await vscode.workspace.getConfiguration(CONFIG_SECTION).update('defaultProfile', chosen, vscode.ConfigurationTarget.Global);
  if (vscode.workspace.isTrusted) await service.startPool(chosen);
  return chosen;
}
