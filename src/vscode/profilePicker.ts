import * as vscode from 'vscode';
import type { AgentProfile } from '../core/agents/adapter';
import { resolveCommand } from '../core/process/spawn';
import type { AgentPoolService } from '../core/service/agentPoolService';

export interface ProfileItem extends vscode.QuickPickItem {
  name: string;
}

/**
 * The profiles as picker items, each saying whether its program is installed: ten built-ins are
 * offered, and most machines have two or three of them. Installed ones come first.
 */
export function profileItems(service: AgentPoolService): ProfileItem[] {
  const running = new Set(service.pools().map((pool) => pool.profile));
  const items = Object.values(service.profiles()).map((profile) => {
    const found = programFound(profile);
    const what = profile.name === 'demo' ? 'built-in demo agent: no API key, no network' : `${profile.adapter} · ${[profile.command, ...profile.args].join(' ')}`;
    return {
      name: profile.name,
      label: found ? profile.name : `$(circle-slash) ${profile.name}`,
      description: running.has(profile.name) ? `running · ${what}` : found ? what : `not installed: "${profile.command}" is not on PATH`,
      found,
    };
  });
  return [...items.filter((item) => item.found), ...items.filter((item) => !item.found)].map(({ found: _found, ...item }) => item);
}

export function programFound(profile: AgentProfile): boolean {
  return resolveCommand(profile.command, profile.env.PATH ?? process.env.PATH) !== undefined;
}
