import * as vscode from 'vscode';
import { errorMessage } from '../core/common/errors';
import type { Settings } from '../core/config/settings';
import type { AgentPoolService } from '../core/service/agentPoolService';
import { CONFIG_SECTION } from './constants';

/** Where the pools' configuration and sticky sessions are kept across a window reload. */
export const POOL_STATE_KEY = 'agentPool.poolState';

/**
 * Starts this window's pools: those of the last session (with their sticky conversations) if
 * there were any, else one pool for the default profile. Does nothing in Restricted Mode or
 * without a profile (the welcome view then offers one). Failures are shown once, never retried in a loop.
 */
export async function startPools(service: AgentPoolService, state: vscode.Memento, settings: Settings, log: vscode.LogOutputChannel): Promise<void> {
  if (!vscode.workspace.isTrusted) {
    log.info('Restricted Mode: showing other windows only; no agent is started.');
    return;
  }
  try {
    const saved = state.get<{ pools?: unknown[] }>(POOL_STATE_KEY);
    if (saved?.pools?.length) {
      await service.restorePoolState(saved);
      log.info(`restored ${saved.pools.length} pool(s) from the last session`);
    } else if (settings.defaultProfile) {
      await service.startPool(settings.defaultProfile);
      log.info(`started a pool for ${settings.defaultProfile}`);
    }
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
    (
      await vscode.window.showQuickPick(
        Object.values(service.profiles()).map((p) => ({
          label: p.name,
          description: p.name === 'demo' ? 'built-in demo agent: no API key, no network' : `${p.adapter} · ${[p.command, ...p.args].join(' ')}`,
        })),
        { title: 'Agent Pool: Choose the default agent profile' },
      )
    )?.label;
  if (!chosen) return undefined;
  service.profile(chosen);
  await vscode.workspace.getConfiguration(CONFIG_SECTION).update('defaultProfile', chosen, vscode.ConfigurationTarget.Global);
  if (vscode.workspace.isTrusted) await service.startPool(chosen);
  return chosen;
}
